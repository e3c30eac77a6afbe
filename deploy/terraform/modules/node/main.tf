resource "hcloud_server" "this" {
  name               = var.name
  server_type        = var.server_type
  image              = var.image
  location           = var.location
  ssh_keys           = var.ssh_keys
  placement_group_id = var.placement_group_id
  user_data          = var.user_data
  backups            = var.backups
  delete_protection  = var.protected
  rebuild_protection = var.protected
  labels             = merge(var.labels, { "livestreams-role" = var.role })

  public_net {
    ipv4_enabled = true
    ipv6_enabled = true
  }

  lifecycle {
    # None of these may silently replace a running node (and, on the
    # control plane, its Raft data): change them by replacing the node on
    # purpose (terraform apply -replace=...).
    ignore_changes = [image, ssh_keys, user_data]
  }
}

resource "hcloud_server_network" "this" {
  count = var.private_network ? 1 : 0

  server_id = hcloud_server.this.id
  subnet_id = var.subnet_id

  lifecycle {
    precondition {
      condition     = var.subnet_id != null
      error_message = "private_network is true but no subnet_id was given."
    }
  }
}
