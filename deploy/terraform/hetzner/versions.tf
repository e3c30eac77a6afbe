terraform {
  required_version = ">= 1.6.0"

  required_providers {
    hcloud = {
      source = "hetznercloud/hcloud"
      # 1.59 has everything used here, DNS zones (hcloud_zone_rrset) included.
      version = "~> 1.59"
    }
  }
}

provider "hcloud" {
  # null: the provider reads HCLOUD_TOKEN from the environment.
  token = var.hcloud_token
}
