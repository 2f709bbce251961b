// Package keys decodes the bytes a terminal (xterm.js) sends for key presses.
//
// Input arrives in chunks, and a terminal sends each escape sequence in one chunk, so a lone ESC
// at the end of the available bytes is the Escape key itself, not the start of a sequence: no
// timer is needed to tell them apart.
package keys

import "unicode/utf8"

// Code says which key was pressed.
type Code int

// Key codes. Rune, Ctrl and Alt carry a rune in Key.Rune.
const (
	Unknown Code = iota
	Rune         // a printable character
	Ctrl         // Ctrl+letter: Rune is the lower-case letter (or one of @ \ ] ^ _)
	Alt          // Alt+key (ESC then the key): Rune is the key
	Enter
	Tab
	Backspace
	Delete
	Escape
	Up
	Down
	Left
	Right
	Home
	End
	PageUp
	PageDown
	Insert
	PasteStart // bracketed paste begins
	PasteEnd   // bracketed paste ends
	Resize     // not a key: the terminal changed size
)

// Key is one decoded key press.
type Key struct {
	Code Code
	Rune rune
}

// Is reports whether k is Ctrl+r.
func (k Key) IsCtrl(r rune) bool { return k.Code == Ctrl && k.Rune == r }

// Parse decodes the first key in b and returns it with the number of bytes it used. It returns
// n == 0 only for empty input or a truncated UTF-8 character.
func Parse(b []byte) (Key, int) {
	if len(b) == 0 {
		return Key{}, 0
	}
	c := b[0]
	switch {
	case c == 0x1b:
		return parseEsc(b)
	case c == '\r' || c == '\n':
		return Key{Code: Enter}, 1
	case c == '\t':
		return Key{Code: Tab}, 1
	case c == 0x7f || c == 0x08:
		return Key{Code: Backspace}, 1
	case c == 0:
		return Key{Code: Ctrl, Rune: '@'}, 1
	case c < 0x1b:
		return Key{Code: Ctrl, Rune: rune('a' + c - 1)}, 1
	case c < 0x20:
		return Key{Code: Ctrl, Rune: rune(`\]^_`[c-0x1c])}, 1
	}
	if !utf8.FullRune(b) {
		return Key{}, 0
	}
	r, n := utf8.DecodeRune(b)
	return Key{Code: Rune, Rune: r}, n
}

var csiTilde = map[string]Code{
	"1": Home, "2": Insert, "3": Delete, "4": End, "5": PageUp, "6": PageDown, "7": Home, "8": End,
	"200": PasteStart, "201": PasteEnd,
}

var csiFinal = map[byte]Code{'A': Up, 'B': Down, 'C': Right, 'D': Left, 'H': Home, 'F': End}

func parseEsc(b []byte) (Key, int) {
	if len(b) == 1 {
		return Key{Code: Escape}, 1
	}
	switch b[1] {
	case '[':
		// CSI: parameters (digits and ';') then one final byte.
		i := 2
		for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == ';') {
			i++
		}
		if i >= len(b) {
			return Key{Code: Escape}, 1
		}
		params, final := string(b[2:i]), b[i]
		if final == '~' {
			if semi := indexByte(params, ';'); semi >= 0 {
				params = params[:semi]
			}
			if c, ok := csiTilde[params]; ok {
				return Key{Code: c}, i + 1
			}
			return Key{Code: Unknown}, i + 1
		}
		if c, ok := csiFinal[final]; ok {
			return Key{Code: c}, i + 1
		}
		return Key{Code: Unknown}, i + 1
	case 'O':
		if len(b) < 3 {
			return Key{Code: Alt, Rune: 'O'}, 2
		}
		if c, ok := csiFinal[b[2]]; ok {
			return Key{Code: c}, 3
		}
		return Key{Code: Unknown}, 3
	case 0x1b:
		return Key{Code: Escape}, 1
	}
	k, n := Parse(b[1:])
	if n == 0 {
		return Key{Code: Escape}, 1
	}
	switch k.Code {
	case Rune:
		return Key{Code: Alt, Rune: k.Rune}, n + 1
	case Backspace:
		return Key{Code: Alt, Rune: 0x7f}, n + 1
	}
	return Key{Code: Escape}, 1
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
