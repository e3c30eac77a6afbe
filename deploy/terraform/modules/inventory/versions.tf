terraform {
  # Pure rendering, no provider: reusable with any cloud's node module.
  required_version = ">= 1.6.0"
}
