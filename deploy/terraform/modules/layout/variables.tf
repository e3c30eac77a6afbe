variable "name_prefix" {
  description = "Prefix of every node name, e.g. \"ls\" gives ls-cp-1 and ls-edge-fsn1-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix: 1-20 characters, lower-case letters, digits and '-', starting with a letter."
  }
}

variable "control_count" {
  description = "Number of control-plane nodes (Raft voters): 3 or 5. 1 is accepted for throwaway test clusters only."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 3, 5], var.control_count)
    error_message = "control_count must be 3 or 5 (1 only for tests): Raft needs an odd number of voters."
  }
}

variable "control_locations" {
  description = "Locations the control-plane nodes are spread over, round-robin (node i goes to control_locations[i % length])."
  type        = list(string)

  validation {
    condition     = length(var.control_locations) > 0
    error_message = "control_locations needs at least one location."
  }
}

variable "edge_locations" {
  description = "Number of edge nodes per location, e.g. { fsn1 = 2, ash = 1 }."
  type        = map(number)

  validation {
    condition     = alltrue([for n in values(var.edge_locations) : n >= 0 && n <= 50 && floor(n) == n])
    error_message = "Each edge count must be a whole number from 0 to 50."
  }
}

variable "locations" {
  description = "What is known about each location: the region label edges report, coordinates for routing, and the private-network zone."
  type = map(object({
    region       = string
    lat          = number
    lon          = number
    network_zone = string
  }))
}

variable "network_zone" {
  description = "Network zone of the private network; nodes in other zones get no private address. null disables the private network."
  type        = string
  default     = null
}
