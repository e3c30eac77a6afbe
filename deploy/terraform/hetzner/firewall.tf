# Provider firewalls in front of the hosts' own nftables rules (deploy/ansible
# role common): the same ports, so a port is open only when both agree.
# Applied by label, so new nodes are covered the moment they exist.

locals {
  anywhere = ["0.0.0.0/0", "::/0"]

  tls_rules = var.tls_enabled ? [
    { protocol = "tcp", port = "443", sources = local.anywhere, description = "HTTPS (reverse proxy)" },
    { protocol = "tcp", port = "80", sources = local.anywhere, description = "HTTP (ACME challenges, redirect to HTTPS)" },
  ] : []

  common_rules = [
    { protocol = "tcp", port = "22", sources = var.ssh_allowed_cidrs, description = "SSH" },
    { protocol = "icmp", port = null, sources = local.anywhere, description = "ICMP (ping, path MTU)" },
  ]

  control_rules = concat(local.common_rules, local.tls_rules, [
    { protocol = "tcp", port = "8080", sources = local.anywhere, description = "Livestreams API, dashboard" },
    { protocol = "udp", port = "7443", sources = local.anywhere, description = "Livestreams QUIC endpoint for edges" },
    { protocol = "tcp", port = "7000", sources = local.member_sources, description = "Raft (cluster members only)" },
    { protocol = "tcp", port = "7946", sources = local.member_sources, description = "Gossip (cluster members only)" },
    { protocol = "udp", port = "7946", sources = local.member_sources, description = "Gossip (cluster members only)" },
  ])

  # Ingest beyond RTMP (the Ansible defaults: WHIP on, RTMPS and SRT off).
  ingest_rules = concat(
    var.edge_rtmps_enabled ? [{ protocol = "tcp", port = "1936", sources = local.anywhere, description = "RTMPS ingest" }] : [],
    var.edge_srt_enabled ? [{ protocol = "udp", port = "9000", sources = local.anywhere, description = "SRT ingest" }] : [],
  )

  edge_rules = concat(local.common_rules, local.tls_rules, local.ingest_rules, [
    { protocol = "tcp", port = "1935", sources = local.anywhere, description = "RTMP ingest" },
    { protocol = "tcp", port = "8081", sources = local.anywhere, description = "HLS origin, WHIP" },
    { protocol = "udp", port = "8189", sources = local.anywhere, description = "WHIP media (WebRTC, one port for every session)" },
    { protocol = "tcp", port = "7946", sources = local.member_sources, description = "Gossip (cluster members only)" },
    { protocol = "udp", port = "7946", sources = local.member_sources, description = "Gossip (cluster members only)" },
  ])
}

resource "hcloud_firewall" "control" {
  name   = "${var.name_prefix}-control"
  labels = local.labels

  dynamic "rule" {
    for_each = local.control_rules
    content {
      direction   = "in"
      protocol    = rule.value.protocol
      port        = rule.value.port
      source_ips  = rule.value.sources
      description = rule.value.description
    }
  }

  apply_to {
    label_selector = "livestreams-cluster=${var.name_prefix},livestreams-role=control"
  }
}

resource "hcloud_firewall" "edge" {
  name   = "${var.name_prefix}-edge"
  labels = local.labels

  dynamic "rule" {
    for_each = local.edge_rules
    content {
      direction   = "in"
      protocol    = rule.value.protocol
      port        = rule.value.port
      source_ips  = rule.value.sources
      description = rule.value.description
    }
  }

  apply_to {
    label_selector = "livestreams-cluster=${var.name_prefix},livestreams-role=edge"
  }
}
