"""A sandbox Nano node that speaks the real node's JSON-RPC at ``POST /nano``.

It keeps a small block-lattice: state blocks with real-format hashes
(blake2b-256 of the state-block fields), a faucet account holding the whole
supply, receivable (pending) sends, confirmation flags, and the node's response
shapes and quirks (every number is a string, ``"blocks": ""`` when empty,
``{"error": "..."}`` with HTTP 200).

Read actions (shapes as the real node, V24+):
    account_info, account_balance, account_history, accounts_receivable
    (accounts_pending as the node answers it), accounts_frontiers, block_info, blocks_info,
    block_count, receivable_exists, version

Test-only actions (not on a real node):
    send         {"source": addr|"faucet", "destination", "amount": raw, "auto_receive", "confirmed"}
    bulk_send    {"sends": [{"destination", "amount", "source"?}...], "auto_receive", "confirmed"}
    receive_all  {"account"}
    confirm      {"hash"}  (or no hash: confirm everything)
    reset        {}
    sandbox_fault {"mode": "none"|"error500"|"timeout"|"garbage", "count"?: n, "delay"?: seconds}
    sandbox_info {}
    sandbox_version {"node_vendor": "Nano V23.3"}  answer `version` as that node, and refuse the
                 actions it did not have yet (accounts_receivable before V24); "" restores the sandbox

A source account without enough funds is topped up from the faucet first (a
faucet send plus a receive on the source), so shopper chains look real.

The ledger lives in memory under one lock and is persisted as an append-only
JSON-lines log (``<state_dir>/nano.jsonl``): each mutating action appends its
new blocks, reads never write, and a restart replays the log.

With the ``nano_ws`` option (``sandbox serve`` sets it) the node also pushes
confirmations over its websocket, as a real node does (sandbox/nano_ws.py).

Modules: ``blocks`` (state-block format, hash, faucet), ``ledger`` (NanoLedger, Fault),
``params`` (parameter parsing), ``read_actions``, ``control_actions`` (the test-only ones),
``rpc`` (the action table, dispatch and HTTP routes). ``sandbox.nano_node`` re-exports them.
"""
