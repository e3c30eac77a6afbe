# Optional DNS records in an existing Hetzner DNS zone (var.dns_zone):
#   api.<subdomain>.<zone>          A/AAAA  every control-plane node
#   <edge-name>.<subdomain>.<zone>  A/AAAA  that edge
# With DNS elsewhere, leave dns_zone null and create the records listed in
# the dns_records output with your provider.

locals {
  dns_label = var.dns_subdomain == "" ? "" : ".${var.dns_subdomain}"

  dns_rrsets = var.dns_zone == null ? {} : merge(
    {
      "api${local.dns_label}/A"    = { name = "api${local.dns_label}", type = "A", values = [for c in values(local.control) : c.public_ipv4] }
      "api${local.dns_label}/AAAA" = { name = "api${local.dns_label}", type = "AAAA", values = [for c in values(local.control) : c.public_ipv6] }
    },
    { for name, e in local.edges : "${name}${local.dns_label}/A" => { name = "${name}${local.dns_label}", type = "A", values = [e.public_ipv4] } },
    { for name, e in local.edges : "${name}${local.dns_label}/AAAA" => { name = "${name}${local.dns_label}", type = "AAAA", values = [e.public_ipv6] } },
  )
}

resource "hcloud_zone_rrset" "this" {
  for_each = local.dns_rrsets

  zone    = var.dns_zone
  name    = each.value.name
  type    = each.value.type
  ttl     = var.dns_ttl
  labels  = local.labels
  records = [for v in sort(each.value.values) : { value = v }]
}
