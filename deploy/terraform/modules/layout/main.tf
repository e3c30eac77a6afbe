locals {
  control_list = [
    for i in range(var.control_count) : {
      name     = format("%s-cp-%d", var.name_prefix, i + 1)
      index    = i
      location = var.control_locations[i % length(var.control_locations)]
    }
  ]

  # Edge names carry their location and a per-location number, so adding a
  # location or raising a count never renames (and so never replaces) an
  # existing edge.
  edge_list = flatten([
    for loc in sort(keys(var.edge_locations)) : [
      for n in range(var.edge_locations[loc]) : {
        name     = format("%s-edge-%s-%d", var.name_prefix, loc, n + 1)
        index    = n
        location = loc
      }
    ]
  ])

  # Unknown locations resolve to this placeholder so that the precondition
  # below, not an index error, reports them.
  unknown = { region = "", lat = 0, lon = 0, network_zone = "" }

  unknown_locations = setsubtract(
    toset(concat(var.control_locations, keys(var.edge_locations))),
    toset(keys(var.locations)),
  )
}

locals {
  control = {
    for c in local.control_list : c.name => merge(c, {
      role         = "control"
      region       = lookup(var.locations, c.location, local.unknown).region
      lat          = lookup(var.locations, c.location, local.unknown).lat
      lon          = lookup(var.locations, c.location, local.unknown).lon
      network_zone = lookup(var.locations, c.location, local.unknown).network_zone
      private      = var.network_zone != null && lookup(var.locations, c.location, local.unknown).network_zone == var.network_zone
    })
  }

  edges = {
    for e in local.edge_list : e.name => merge(e, {
      role         = "edge"
      region       = lookup(var.locations, e.location, local.unknown).region
      lat          = lookup(var.locations, e.location, local.unknown).lat
      lon          = lookup(var.locations, e.location, local.unknown).lon
      network_zone = lookup(var.locations, e.location, local.unknown).network_zone
      private      = var.network_zone != null && lookup(var.locations, e.location, local.unknown).network_zone == var.network_zone
    })
  }
}

# Checked at plan time, before any node exists.
resource "terraform_data" "checks" {
  lifecycle {
    precondition {
      condition     = length(local.unknown_locations) == 0
      error_message = "Unknown location(s): ${join(", ", sort(tolist(local.unknown_locations)))}. Add them to var.locations."
    }
    precondition {
      condition     = var.network_zone == null || alltrue([for c in values(local.control) : c.private])
      error_message = "Every control_locations entry must be in network zone ${coalesce(var.network_zone, "-")}: Raft runs over the private network."
    }
  }
}
