# terraform test (no provider, no network): node names, placement and the
# plan-time checks of the layout module.

variables {
  name_prefix       = "ls"
  control_count     = 3
  control_locations = ["fsn1", "nbg1", "hel1"]
  edge_locations    = { fsn1 = 2, ash = 1, sin = 0 }
  network_zone      = "eu-central"
  locations = {
    fsn1 = { region = "eu-central", lat = 50.47, lon = 12.37, network_zone = "eu-central" }
    nbg1 = { region = "eu-central", lat = 49.45, lon = 11.08, network_zone = "eu-central" }
    hel1 = { region = "eu-north", lat = 60.17, lon = 24.94, network_zone = "eu-central" }
    ash  = { region = "us-east", lat = 39.04, lon = -77.49, network_zone = "us-east" }
    sin  = { region = "ap-southeast", lat = 1.35, lon = 103.82, network_zone = "ap-southeast" }
  }
}

run "names_and_placement" {
  command = plan

  assert {
    condition     = keys(output.control) == ["ls-cp-1", "ls-cp-2", "ls-cp-3"]
    error_message = "control names: ${jsonencode(keys(output.control))}"
  }

  assert {
    condition     = [for c in values(output.control) : c.location] == ["fsn1", "nbg1", "hel1"]
    error_message = "control nodes must be spread round-robin over control_locations"
  }

  assert {
    condition     = keys(output.edges) == ["ls-edge-ash-1", "ls-edge-fsn1-1", "ls-edge-fsn1-2"]
    error_message = "edge names: ${jsonencode(keys(output.edges))}"
  }

  assert {
    condition     = output.edges["ls-edge-fsn1-2"].private && !output.edges["ls-edge-ash-1"].private
    error_message = "only nodes in the private network's zone join it"
  }

  assert {
    condition     = output.edges["ls-edge-ash-1"].region == "us-east" && output.control["ls-cp-3"].region == "eu-north"
    error_message = "regions come from the locations table"
  }
}

run "five_controls_wrap_around" {
  command = plan

  variables {
    control_count = 5
  }

  assert {
    condition     = output.control["ls-cp-4"].location == "fsn1" && output.control["ls-cp-5"].location == "nbg1"
    error_message = "control nodes 4 and 5 must wrap around to the first locations"
  }
}

run "even_control_count_is_rejected" {
  command = plan

  variables {
    control_count = 4
  }

  expect_failures = [var.control_count]
}

run "unknown_location_is_rejected" {
  command = plan

  variables {
    edge_locations = { xyz1 = 1 }
  }

  expect_failures = [terraform_data.checks]
}

run "control_outside_private_zone_is_rejected" {
  command = plan

  variables {
    control_locations = ["fsn1", "ash"]
  }

  expect_failures = [terraform_data.checks]
}

run "no_private_network" {
  command = plan

  variables {
    network_zone      = null
    control_locations = ["ash"]
  }

  assert {
    condition     = alltrue([for n in concat(values(output.control), values(output.edges)) : !n.private])
    error_message = "without a network zone no node is private"
  }
}
