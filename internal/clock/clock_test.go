package clock

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func TestStepRunsTimersInOrderAtTheirMoment(t *testing.T) {
	c := NewFrozen(t0)
	var got []string
	record := func(name string) func() {
		return func() { got = append(got, fmt.Sprintf("%s@%s", name, c.Since(t0))) }
	}
	c.AfterFunc(30*time.Second, record("b"))
	c.AfterFunc(10*time.Second, record("a"))
	c.AfterFunc(10*time.Second, func() {
		record("a2")()
		c.AfterFunc(5*time.Second, record("chained")) // due inside the window: must run too
	})
	stopped := c.AfterFunc(20*time.Second, record("never"))
	stopped.Stop()
	c.AfterFunc(2*time.Minute, record("later"))

	c.Step(time.Minute)
	want := "a@10s a2@10s chained@15s b@30s"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("timers ran as %q, want %q", s, want)
	}
	if d := c.Since(t0); d != time.Minute {
		t.Fatalf("after Step(1m) the clock is at +%v", d)
	}
	c.Step(time.Minute)
	if s := strings.Join(got, " "); !strings.HasSuffix(s, "later@2m0s") {
		t.Fatalf("second step ran %q", s)
	}
}

func TestAdvanceAgesTheWorld(t *testing.T) {
	c := NewFrozen(t0)
	stamp := t0.Add(-time.Hour) // something created an hour ago
	c.OnShift(func(d time.Duration) { stamp = stamp.Add(-d) })
	var ranAt time.Duration
	c.AfterFunc(24*time.Hour, func() { ranAt = c.Since(stamp) })

	c.Advance(168 * time.Hour)

	if !c.Now().Equal(t0) {
		t.Fatalf("Advance moved a frozen clock's now to %v", c.Now())
	}
	if age := c.Since(stamp); age != 169*time.Hour {
		t.Fatalf("the stamp's age is %v, want 169h", age)
	}
	// the timer was due a day after the stamp's hour: it ran when the stamp was 25h old
	if ranAt != 25*time.Hour {
		t.Fatalf("timer saw the stamp %v old, want 25h", ranAt)
	}
}

func TestTickerAndTimerChannels(t *testing.T) {
	c := NewFrozen(t0)
	tk := c.NewTicker(10 * time.Second)
	tm := c.NewTimer(25 * time.Second)
	c.Step(10 * time.Second)
	if got := <-tk.C(); !got.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("tick at %v", got)
	}
	c.Step(20 * time.Second)
	if got := <-tm.C(); !got.Equal(t0.Add(25 * time.Second)) {
		t.Fatalf("timer fired at %v", got)
	}
	tk.Stop()
	if tm.Stop() {
		t.Fatal("Stop of a fired timer reported it pending")
	}
}

func TestRealClockFiresTimers(t *testing.T) {
	c := NewReal()
	defer c.Stop()
	done := make(chan time.Time, 1)
	c.AfterFunc(time.Millisecond, func() { done <- c.Now() })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a 1ms timer on a real clock did not fire within 10s")
	}
}

func TestAdvanceOnRealClockRunsDueTimers(t *testing.T) {
	c := NewReal()
	defer c.Stop()
	var order []string
	c.AfterFunc(time.Hour, func() { order = append(order, "1h") })
	c.AfterFunc(48*time.Hour, func() { order = append(order, "48h") })
	c.AfterFunc(200*time.Hour, func() { order = append(order, "200h") })
	c.Advance(168 * time.Hour)
	if s := strings.Join(order, " "); s != "1h 48h" {
		t.Fatalf("Advance(168h) ran %q", s)
	}
}

func TestReanchorTranslatesTheWorld(t *testing.T) {
	c := NewFrozen(t0)
	stamp := t0.Add(-time.Minute)
	c.OnShift(func(d time.Duration) { stamp = stamp.Add(-d) })
	var fired time.Time
	c.AfterFunc(30*time.Second, func() { fired = c.Now() })
	c.wall = func() time.Time { return t0.Add(time.Hour + 300*time.Millisecond) }
	c.Reanchor()
	if want := t0.Add(time.Hour); !c.Now().Equal(want) {
		t.Fatalf("now is %v, want the wall second %v", c.Now(), want)
	}
	if age := c.Since(stamp); age != time.Minute {
		t.Fatalf("after reanchoring the stamp is %v old, want 1m", age)
	}
	if !fired.IsZero() {
		t.Fatal("reanchoring ran a timer")
	}
	c.Step(30 * time.Second)
	if want := t0.Add(time.Hour + 30*time.Second); !fired.Equal(want) {
		t.Fatalf("the timer ran at %v, want %v", fired, want)
	}
}
