package gossip

// EventType says what happened to a member.
type EventType int

const (
	EventJoin   EventType = iota + 1 // alive: new, or back after dead or left
	EventUpdate                      // alive, and its Info changed
	EventLeave                       // announced its leave
	EventDead                        // failed
)

func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventDead:
		return "dead"
	}
	return "unknown"
}

// Event is a change of a member, with the member as it is after it.
type Event struct {
	Type   EventType
	Member Member
}

// eventBuffer is how many events a subscriber may fall behind by.
const eventBuffer = 64

type subscriber struct {
	ch      chan Event
	dropped int
}

// Subscribe returns a channel of member events and a function that ends
// the subscription and closes the channel; Close and Leave end it too.
//
// Delivery never blocks gossip: a subscriber more than 64 events behind
// loses the events that do not fit, so a subscriber that must not miss a
// change should treat events as hints and read Members for the truth.
func (n *Node) Subscribe() (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, eventBuffer)}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		close(s.ch)
		return s.ch, func() {}
	}
	n.subs[s] = struct{}{}
	return s.ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if _, ok := n.subs[s]; ok {
			delete(n.subs, s)
			close(s.ch)
		}
	}
}

func (n *Node) publishLocked(e Event) {
	for s := range n.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped++
			if s.dropped == 1 || s.dropped%1000 == 0 {
				n.log.Debug("gossip: slow subscriber, events dropped", "dropped", s.dropped)
			}
		}
	}
}
