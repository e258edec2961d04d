"""The iam service handler: users, groups, access keys, policies."""
