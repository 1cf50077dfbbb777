"""The price table (tools/prices.json) and the script that rebuilds it from the AWS Price List."""
