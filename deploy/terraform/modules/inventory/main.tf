locals {
  group_vars = merge(
    { ansible_user = var.ssh_user },
    { for k, v in var.group_vars : k => v if v != null && v != "" },
  )

  ini = templatefile("${path.module}/inventory.ini.tftpl", {
    control    = var.control
    edges      = var.edges
    group_vars = local.group_vars
  })
}
