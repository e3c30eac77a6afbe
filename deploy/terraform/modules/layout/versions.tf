terraform {
  # Pure computation: no provider, so it works with any cloud and can be
  # tested offline with `terraform test`.
  required_version = ">= 1.6.0"
}
