"""What each payout destination looks like, shown next to its field."""
PAYOUT_HINTS = {
    "nano": "Your Nano address (nano_…). Shoppers pay it directly; the checksum is verified.",
    "razorpay": "Your Razorpay Route linked account id, e.g. acc_XXXXXXXXXXXXXX.",
    "coinpay": "Your CoinPay wallet address or wallet id for payouts.",
}
