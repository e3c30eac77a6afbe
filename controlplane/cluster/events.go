package cluster

// OnApply registers fn to be told of each entry this node's state machine
// applies (the events hub's wake-up). fn must not block.
func (n *Node) OnApply(fn func(index uint64)) { n.fsm.OnApply(fn) }
