package eventname

import (
	"testing"
	"time"
)

func TestStampsOfTwoLanesNeverMeet(t *testing.T) {
	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	seen := map[int64]Lane{}
	stampers := []*Stamper{New(Controllers), New(Scheduler), New(Kubelet)}
	for round := 0; round < 100; round++ {
		moment := at.Add(time.Duration(round/10) * time.Nanosecond) // ten events per nanosecond
		for lane, s := range stampers {
			n := s.Stamp(moment)
			if other, ok := seen[n]; ok {
				t.Fatalf("stamp %d drawn by lanes %d and %d", n, other, lane)
			}
			seen[n] = Lane(lane)
			if off := n - moment.UnixNano(); off < -int64(lanes) || off > 1000 {
				t.Fatalf("lane %d stamped %v as %d: %d ns off", lane, moment, n, off)
			}
		}
	}
}

// TestOneInstantSortsInCausalOrder: the events of one moment are named controller, scheduler,
// kubelet, whichever of them records first.
func TestOneInstantSortsInCausalOrder(t *testing.T) {
	for offset := 0; offset < 3; offset++ {
		at := time.Unix(100, int64(offset))
		kubelet, scheduler, controllers := New(Kubelet).Stamp(at), New(Scheduler).Stamp(at), New(Controllers).Stamp(at)
		if !(controllers < scheduler && scheduler < kubelet) {
			t.Errorf("at %d: controllers %d, scheduler %d, kubelet %d", at.UnixNano(), controllers, scheduler, kubelet)
		}
	}
}

func TestStamps(t *testing.T) {
	at := time.Unix(99, 999999999) // a multiple of the three lanes: 99,999,999,999 ns
	a := at.UnixNano()
	tests := []struct {
		lane Lane
		at   []time.Time
		want []int64
	}{
		{Controllers, []time.Time{at, at, at.Add(1), at.Add(10)}, []int64{a, a + 3, a + 6, a + 9}},
		{Kubelet, []time.Time{at, at, at.Add(3 * time.Second)}, []int64{a + 2, a + 5, a + 3e9 + 2}},
		{Scheduler, []time.Time{at.Add(2), at.Add(1)}, []int64{a + 1, a + 4}},
	}
	for _, tt := range tests {
		s := New(tt.lane)
		for i, moment := range tt.at {
			if got := s.Stamp(moment); got != tt.want[i] {
				t.Errorf("lane %d, stamp %d at %v: got %d, want %d", tt.lane, i, moment.UnixNano(), got, tt.want[i])
			}
		}
	}
}

func TestShiftKeepsTheLane(t *testing.T) {
	s := New(Kubelet)
	at := time.Unix(99, 999999999)
	s.Stamp(at) // ...+2
	s.Stamp(at) // ...+5
	s.Shift(-9 * time.Second)
	if got, want := s.Stamp(at.Add(-9*time.Second)), at.Add(-9*time.Second).UnixNano()+8; got != want {
		t.Fatalf("after a shift: got %d, want %d", got, want)
	}
}
