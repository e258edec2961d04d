"""The AWS IAM and STS Query APIs on the AWS-compatible endpoint."""
