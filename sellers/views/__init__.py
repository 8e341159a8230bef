"""Seller dashboard views, one module per page. All go through mixins.seller_required."""
