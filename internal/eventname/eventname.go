// Package eventname stamps the names of a cluster's events. client-go's recorders name an event
// after its object and the nanosecond it was made (record/util.GenerateEventName), and real
// components never make two events in the same nanosecond. A simulated cluster's components share
// one virtual clock, often frozen, so the scheduler, the controllers and a kubelet would all name
// their events of one pod after the same instant, and the second create would fail with
// AlreadyExists. Each kind of component therefore stamps in a lane of its own: its stamps are
// strictly increasing and keep their own remainder modulo the number of lanes, so two components
// never draw the same stamp, whatever order they run in, and a stamp is at most a few
// nanoseconds off the moment. The lanes follow the order in which components act on a new pod
// (a controller creates it, the scheduler binds it, the kubelet starts it), so the names of the
// events of one instant sort in that order, as real ones made nanoseconds apart do.
package eventname

import "time"

// Lane is the kind of component that makes an event.
type Lane int64

// The lanes: the components that record events about the same objects.
const (
	Controllers Lane = iota
	Scheduler
	Kubelet
	lanes
)

// Stamper hands out the stamps of one component's events. The zero value is not usable: use New.
type Stamper struct {
	lane Lane
	last int64
}

// New returns a stamper for a component of the given lane.
func New(lane Lane) *Stamper { return &Stamper{lane: lane, last: -1} }

// Stamp returns the nanosecond stamp of an event made at t: in the stamper's lane of the few
// nanoseconds around t, and greater than every stamp it returned before.
func (s *Stamper) Stamp(t time.Time) int64 {
	n := t.UnixNano()
	n += int64(s.lane) - (n%int64(lanes)+int64(lanes))%int64(lanes)
	if n <= s.last {
		n = s.last + int64(lanes)
	}
	s.last = n
	return n
}

// Shift moves the stamper's memory by d, as the clock's fast-forward moves stored times, so that
// stamps stay close to the moments they name.
func (s *Stamper) Shift(d time.Duration) {
	if s.last >= 0 {
		s.last += int64(d) - int64(d)%int64(lanes)
	}
}
