package keys

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Key
		n    int
	}{
		{"a", Key{Code: Rune, Rune: 'a'}, 1},
		{"é", Key{Code: Rune, Rune: 'é'}, 2},
		{"\r", Key{Code: Enter}, 1},
		{"\x7f", Key{Code: Backspace}, 1},
		{"\x01", Key{Code: Ctrl, Rune: 'a'}, 1},
		{"\x1b", Key{Code: Escape}, 1},
		{"\x1b[A", Key{Code: Up}, 3},
		{"\x1bOD", Key{Code: Left}, 3},
		{"\x1b[3~", Key{Code: Delete}, 4},
		{"\x1b[1;5C", Key{Code: Right}, 6},
		{"\x1b[200~", Key{Code: PasteStart}, 6},
		{"\x1bb", Key{Code: Alt, Rune: 'b'}, 2},
		{"\x1b[", Key{Code: Escape}, 1},
	}
	for _, tt := range tests {
		k, n := Parse([]byte(tt.in))
		if k != tt.want || n != tt.n {
			t.Errorf("Parse(%q) = %+v, %d; want %+v, %d", tt.in, k, n, tt.want, tt.n)
		}
	}
}
