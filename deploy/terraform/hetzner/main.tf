# Livestreams on Hetzner Cloud: 3 (or 5) control-plane nodes spread over the
# locations of one network zone, edges in as many locations as you like, a
# private network for Raft, provider firewalls matching the Ansible nftables
# rules, optional DNS, and the Ansible inventory as an output.

locals {
  labels = {
    "livestreams-cluster" = var.name_prefix
    "managed-by"          = "terraform"
  }

  ssh_keys = concat([for k in hcloud_ssh_key.this : k.name], var.ssh_key_names)
}

module "layout" {
  source = "../modules/layout"

  name_prefix       = var.name_prefix
  control_count     = var.control_count
  control_locations = var.control_locations
  edge_locations    = var.edge_locations
  locations         = var.locations
  network_zone      = var.network_zone
}

resource "hcloud_ssh_key" "this" {
  for_each = var.ssh_public_keys

  name       = "${var.name_prefix}-${each.key}"
  public_key = each.value
  labels     = local.labels
}

# --- Private network ---------------------------------------------------------------

resource "hcloud_network" "this" {
  name     = "${var.name_prefix}-net"
  ip_range = var.private_network_cidr
  labels   = local.labels
}

resource "hcloud_network_subnet" "this" {
  network_id   = hcloud_network.this.id
  type         = "cloud"
  network_zone = var.network_zone
  ip_range     = var.private_subnet_cidr
}

# One spread group per location that holds control-plane nodes: no two of
# them share a physical host.
resource "hcloud_placement_group" "control" {
  for_each = toset([for c in module.layout.control : c.location])

  name   = "${var.name_prefix}-cp-${each.key}"
  type   = "spread"
  labels = local.labels
}

# --- Nodes ---------------------------------------------------------------------------

module "control" {
  source   = "../modules/node"
  for_each = module.layout.control

  name               = each.key
  role               = "control"
  location           = each.value.location
  server_type        = var.control_server_type
  image              = var.image
  ssh_keys           = local.ssh_keys
  labels             = local.labels
  private_network    = true
  subnet_id          = hcloud_network_subnet.this.id
  placement_group_id = hcloud_placement_group.control[each.value.location].id
  backups            = var.backups
  protected          = var.protect_control_plane
}

module "edge" {
  source   = "../modules/node"
  for_each = module.layout.edges

  name            = each.key
  role            = "edge"
  location        = each.value.location
  server_type     = lookup(var.edge_server_types, each.value.location, var.edge_server_type)
  image           = var.image
  ssh_keys        = local.ssh_keys
  labels          = local.labels
  private_network = each.value.private
  subnet_id       = hcloud_network_subnet.this.id
}

locals {
  dns_suffix = var.dns_zone == null ? null : join(".", compact([var.dns_subdomain, var.dns_zone]))

  edges = {
    for name, e in module.layout.edges : name => {
      location    = e.location
      region      = e.region
      lat         = e.lat
      lon         = e.lon
      public_ipv4 = module.edge[name].public_ipv4
      public_ipv6 = module.edge[name].public_ipv6
      private_ip  = module.edge[name].private_ip
      fqdn        = local.dns_suffix == null ? null : "${name}.${local.dns_suffix}"
    }
  }

  control = {
    for name, c in module.layout.control : name => {
      location    = c.location
      public_ipv4 = module.control[name].public_ipv4
      public_ipv6 = module.control[name].public_ipv6
      private_ip  = module.control[name].private_ip
    }
  }

  # Every address a cluster member can come from, for the members-only
  # firewall rules (Raft, gossip). Private traffic bypasses Hetzner's
  # firewalls, so these are the public addresses.
  member_sources = sort(concat(
    [for m in concat(values(module.control), values(module.edge)) : "${m.public_ipv4}/32"],
    [for m in concat(values(module.control), values(module.edge)) : m.public_ipv6_network],
  ))
}
