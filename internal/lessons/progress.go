package lessons

// Progress is one learner's way through a lesson: which setups ran, which checks hold, which
// quizzes were answered. It is a state machine without I/O: the caller runs setups and checks
// and feeds the outcomes in. A step, once green, stays green (later steps may well delete the
// objects an earlier step's checks looked at).
type Progress struct {
	lesson *Lesson
	steps  []stepState
}

// Setup states.
const (
	SetupNone    = ""        // not started
	SetupRunning = "running" // actions in flight
	SetupDone    = "done"
	SetupFailed  = "failed"
)

type stepState struct {
	setup, setupErr string
	tryIt, tryItErr string
	checks          []bool
	tryChecks       []bool
	choice          int // -1: not answered
	correct         bool
	revealed        bool
	hints           int
	done            bool
}

// NewProgress starts a lesson.
func NewProgress(l *Lesson) *Progress {
	p := &Progress{lesson: l, steps: make([]stepState, len(l.Steps))}
	for i, s := range l.Steps {
		p.steps[i] = stepState{choice: -1, checks: make([]bool, len(s.Checks))}
		if s.Quiz != nil && s.Quiz.TryIt != nil {
			p.steps[i].tryChecks = make([]bool, len(s.Quiz.TryIt.Checks))
		}
		if len(s.Setup) == 0 {
			p.steps[i].setup = SetupDone
		}
	}
	p.settle()
	return p
}

// Lesson is the lesson being followed.
func (p *Progress) Lesson() *Lesson { return p.lesson }

// Exprs lists the expressions whose results Observe wants now: the checks of steps not yet
// green, and of started try-its.
func (p *Progress) Exprs() []string {
	var out []string
	for i, s := range p.lesson.Steps {
		st := &p.steps[i]
		if !st.done && st.setup == SetupDone {
			for j, c := range s.Checks {
				if !st.checks[j] {
					out = append(out, c.Expr)
				}
			}
		}
		if st.tryIt == SetupDone {
			for j, c := range s.Quiz.TryIt.Checks {
				if !st.tryChecks[j] {
					out = append(out, c.Expr)
				}
			}
		}
	}
	return out
}

// Observe feeds check results in; it reports whether anything changed.
func (p *Progress) Observe(results map[string]Result) bool {
	changed := false
	for i, s := range p.lesson.Steps {
		st := &p.steps[i]
		if !st.done && st.setup == SetupDone {
			for j, c := range s.Checks {
				// A check, once seen to hold, stays green: the learner did it.
				if r, ok := results[c.Expr]; ok && r.OK && !st.checks[j] {
					st.checks[j] = true
					changed = true
				}
			}
		}
		if st.tryIt == SetupDone {
			for j, c := range s.Quiz.TryIt.Checks {
				// A try-it check, once seen, stays seen.
				if r, ok := results[c.Expr]; ok && r.OK && !st.tryChecks[j] {
					st.tryChecks[j] = true
					changed = true
				}
			}
		}
	}
	return p.settle() || changed
}

// settle marks steps done; it reports whether one turned green.
func (p *Progress) settle() bool {
	changed := false
	for i, s := range p.lesson.Steps {
		st := &p.steps[i]
		if st.done {
			continue
		}
		ok := st.setup == SetupDone
		for _, c := range st.checks {
			ok = ok && c
		}
		if s.Quiz != nil {
			ok = ok && (st.correct || st.revealed)
		}
		if ok {
			st.done = true
			changed = true
		}
	}
	return changed
}

func (p *Progress) step(i int) (*Step, *stepState, bool) {
	if i < 0 || i >= len(p.steps) {
		return nil, nil, false
	}
	return &p.lesson.Steps[i], &p.steps[i], true
}

// StartSetup returns the setup actions of step i if they have not run yet, and marks them
// running.
func (p *Progress) StartSetup(i int) ([]Action, bool) {
	s, st, ok := p.step(i)
	if !ok || st.setup != SetupNone {
		return nil, false
	}
	st.setup = SetupRunning
	return s.Setup, true
}

// SetupFinished records the outcome of step i's setup.
func (p *Progress) SetupFinished(i int, err error) {
	if _, st, ok := p.step(i); ok {
		st.setup, st.setupErr = SetupDone, ""
		if err != nil {
			st.setup, st.setupErr = SetupFailed, err.Error()
		}
		p.settle()
	}
}

// StartTryIt returns the try-it actions of step i's quiz unless they ran already.
func (p *Progress) StartTryIt(i int) ([]Action, bool) {
	s, st, ok := p.step(i)
	if !ok || s.Quiz == nil || s.Quiz.TryIt == nil || (st.tryIt != SetupNone && st.tryIt != SetupFailed) {
		return nil, false
	}
	st.tryIt = SetupRunning
	return s.Quiz.TryIt.Setup, true
}

// TryItFinished records the outcome of a try-it's setup.
func (p *Progress) TryItFinished(i int, err error) {
	if _, st, ok := p.step(i); ok {
		st.tryIt, st.tryItErr = SetupDone, ""
		if err != nil {
			st.tryIt, st.tryItErr = SetupFailed, err.Error()
		}
	}
}

// Answer records a quiz answer and reports whether it is right.
func (p *Progress) Answer(i, choice int) bool {
	s, st, ok := p.step(i)
	if !ok || s.Quiz == nil || choice < 0 || choice >= len(s.Quiz.Choices) {
		return false
	}
	st.choice = choice
	if choice == s.Quiz.Answer {
		st.correct = true
	}
	p.settle()
	return choice == s.Quiz.Answer
}

// Reveal shows a quiz's answer.
func (p *Progress) Reveal(i int) {
	if s, st, ok := p.step(i); ok && s.Quiz != nil {
		st.revealed = true
		p.settle()
	}
}

// Hint reveals the next hint of step i.
func (p *Progress) Hint(i int) {
	if s, st, ok := p.step(i); ok && st.hints < len(s.Hints) {
		st.hints++
	}
}

// View is the progress as the page shows it.
type View struct {
	Done  int        `json:"done"`
	Total int        `json:"total"`
	Steps []StepView `json:"steps"`
}

// StepView is one step's state.
type StepView struct {
	ID       string      `json:"id"`
	Done     bool        `json:"done"`
	Setup    string      `json:"setup,omitempty"`
	SetupErr string      `json:"setupError,omitempty"`
	Checks   []CheckView `json:"checks,omitempty"`
	Hints    int         `json:"hints"`
	Quiz     *QuizView   `json:"quiz,omitempty"`
}

// CheckView is one check's state.
type CheckView struct {
	Title string `json:"title"`
	OK    bool   `json:"ok"`
}

// QuizView is a quiz's state. Answer and Explanation are given once the learner answered
// correctly or revealed them.
type QuizView struct {
	Choice      int         `json:"choice"`
	Correct     bool        `json:"correct"`
	Revealed    bool        `json:"revealed"`
	Answer      *int        `json:"answer,omitempty"`
	Explanation string      `json:"explanation,omitempty"`
	TryIt       string      `json:"tryIt,omitempty"`
	TryItErr    string      `json:"tryItError,omitempty"`
	TryItChecks []CheckView `json:"tryItChecks,omitempty"`
}

// View returns the current state.
func (p *Progress) View() View {
	v := View{Total: len(p.steps)}
	for i, s := range p.lesson.Steps {
		st := &p.steps[i]
		sv := StepView{ID: s.ID, Done: st.done, Setup: st.setup, SetupErr: st.setupErr, Hints: st.hints}
		for j, c := range s.Checks {
			sv.Checks = append(sv.Checks, CheckView{Title: c.Title, OK: st.done || st.checks[j]})
		}
		if q := s.Quiz; q != nil {
			qv := &QuizView{Choice: st.choice, Correct: st.correct, Revealed: st.revealed, TryIt: st.tryIt, TryItErr: st.tryItErr}
			if st.correct || st.revealed {
				a := q.Answer
				qv.Answer = &a
				qv.Explanation = q.Explanation
			}
			if q.TryIt != nil {
				for j, c := range q.TryIt.Checks {
					qv.TryItChecks = append(qv.TryItChecks, CheckView{Title: c.Title, OK: st.tryChecks[j]})
				}
			}
			sv.Quiz = qv
		}
		if st.done {
			v.Done++
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}
