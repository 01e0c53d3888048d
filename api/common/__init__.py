"""What the GraphQL capabilities share: the JSON scalar, enums mirrored from the domain,
cursor connections."""
