# terraform test (no provider, no network): renders the inventory for a
# small fleet and checks its shape.

variables {
  control = {
    "ls-cp-2" = { public_ip = "203.0.113.12", private_ip = "10.42.1.3" }
    "ls-cp-1" = { public_ip = "203.0.113.11", private_ip = "10.42.1.2" }
    "ls-cp-3" = { public_ip = "203.0.113.13", private_ip = "10.42.1.4" }
  }
  edges = {
    "ls-edge-fsn1-1" = {
      public_ip  = "203.0.113.21"
      private_ip = "10.42.1.5"
      region     = "eu-central"
      public_url = "https://ls-edge-fsn1-1.live.example.com"
      lat        = 50.47
      lon        = 12.37
    }
    "ls-edge-ash-1" = {
      public_ip = "198.51.100.31"
      region    = "us-east"
    }
  }
  group_vars = {
    livestreams_s3_bucket   = "recordings"
    livestreams_s3_endpoint = ""
  }
}

run "renders_groups_in_order" {
  command = plan

  assert {
    condition     = strcontains(output.ini, "[control]\nls-cp-1 ansible_host=203.0.113.11 livestreams_private_ip=10.42.1.2\nls-cp-2 ")
    error_message = "control hosts must be sorted, the bootstrap host (cp-1) first:\n${output.ini}"
  }

  assert {
    condition     = strcontains(output.ini, "ls-edge-ash-1 ansible_host=198.51.100.31 livestreams_edge_region=us-east\n")
    error_message = "an edge without private IP, URL or coordinates gets only what it has:\n${output.ini}"
  }

  assert {
    condition     = strcontains(output.ini, "ls-edge-fsn1-1 ansible_host=203.0.113.21 livestreams_private_ip=10.42.1.5 livestreams_edge_region=eu-central livestreams_edge_public_url=https://ls-edge-fsn1-1.live.example.com livestreams_edge_lat=50.47 livestreams_edge_lon=12.37\n")
    error_message = "edge line is incomplete:\n${output.ini}"
  }

  assert {
    condition     = strcontains(output.ini, "[livestreams:vars]\nansible_user=root\nlivestreams_s3_bucket=recordings\n")
    error_message = "group vars must be sorted and empty values left out:\n${output.ini}"
  }

  assert {
    condition     = !strcontains(output.ini, "livestreams_s3_endpoint")
    error_message = "empty group vars must be left out"
  }
}

run "control_only" {
  command = plan

  variables {
    edges = {}
  }

  assert {
    condition     = strcontains(output.ini, "[edge]\n\n[livestreams:children]")
    error_message = "an empty edge group must still be declared:\n${output.ini}"
  }
}

# The fleet e2e/deploy_test.go renders with Ansible and starts on loopback
# addresses: the test reads tests/loopback.ini, and this run proves the
# module renders exactly that file, so the two stay in step.
run "loopback_fleet_of_the_deploy_test" {
  command = plan

  variables {
    control = {
      "cp-1" = { public_ip = "127.0.0.11" }
      "cp-2" = { public_ip = "127.0.0.12" }
      "cp-3" = { public_ip = "127.0.0.13" }
    }
    edges = {
      "edge-fsn1-1" = { public_ip = "127.0.0.21", region = "eu-central", lat = 50.47, lon = 12.37 }
      "edge-ash-1"  = { public_ip = "127.0.0.22", region = "us-east", lat = 39.04, lon = -77.49 }
    }
    group_vars = {
      livestreams_s3_bucket     = "recordings"
      livestreams_s3_region     = "us-east-1"
      livestreams_s3_path_style = "true"
    }
  }

  assert {
    condition     = output.ini == file("tests/loopback.ini")
    error_message = "the inventory differs from tests/loopback.ini (the deploy test's fleet):\n${output.ini}"
  }
}
