locals {
  edge_public_url = {
    for name, e in local.edges : name => (
      e.fqdn == null ? "http://${e.public_ipv4}:8081" : (var.tls_enabled ? "https://${e.fqdn}" : "http://${e.fqdn}:8081")
    )
  }
}

module "inventory" {
  source = "../modules/inventory"

  control = {
    for name, c in local.control : name => {
      public_ip  = c.public_ipv4
      private_ip = c.private_ip
    }
  }

  edges = {
    for name, e in local.edges : name => {
      public_ip  = e.public_ipv4
      private_ip = e.private_ip
      region     = e.region
      public_url = local.edge_public_url[name]
      lat        = e.lat
      lon        = e.lon
    }
  }

  group_vars = {
    livestreams_tls_enabled = var.tls_enabled ? "true" : null
    # The firewall above opens their ports; the edge role offers them.
    livestreams_edge_rtmps_enabled = var.edge_rtmps_enabled ? "true" : null
    livestreams_edge_srt_enabled   = var.edge_srt_enabled ? "true" : null
    # The name Caddy serves the API and dashboard under (TLS needs DNS).
    livestreams_control_domain = var.tls_enabled && local.dns_suffix != null ? "api.${local.dns_suffix}" : null
    livestreams_s3_endpoint    = try(var.object_storage.endpoint, null)
    livestreams_s3_bucket      = try(var.object_storage.bucket, null)
    livestreams_s3_region      = try(var.object_storage.region, null)
  }
}

output "ansible_inventory" {
  description = "Inventory for deploy/ansible: terraform output -raw ansible_inventory > ../../ansible/inventory.ini"
  value       = module.inventory.ini
}

output "control_nodes" {
  description = "Control-plane nodes: location and addresses. The first one bootstraps the cluster."
  value       = local.control
}

output "edge_nodes" {
  description = "Edge nodes: location, region, addresses and the public URL viewers reach them by."
  value = {
    for name, e in local.edges : name => merge(e, { public_url = local.edge_public_url[name] })
  }
}

output "control_api_url" {
  description = "API and dashboard of the control plane (through any node)."
  value = (var.dns_zone == null
    ? "http://${local.control[sort(keys(local.control))[0]].public_ipv4}:8080"
    : (var.tls_enabled ? "https://api.${local.dns_suffix}" : "http://api.${local.dns_suffix}:8080")
  )
}

output "dns_records" {
  description = "The A/AAAA records this fleet wants, by name relative to the zone (api.live, ls-edge-fsn1-1.live, ...). Created in dns_zone when it is set; otherwise create them with your DNS provider."
  value = merge(
    {
      "api${local.dns_label}" = {
        A    = sort([for c in values(local.control) : c.public_ipv4])
        AAAA = sort([for c in values(local.control) : c.public_ipv6])
      }
    },
    {
      for name, e in local.edges : "${name}${local.dns_label}" => {
        A    = [e.public_ipv4]
        AAAA = [e.public_ipv6]
      }
    },
  )
}
