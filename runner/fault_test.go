package runner

import "testing"

func TestParseFaults(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"upload@2", []string{"upload@2.1"}, false},
		{"work@1.3, checkpoint@4", []string{"work@1.3", "checkpoint@4.1"}, false},
		{"upload", nil, true},
		{"reboot@2", nil, true},
		{"work@0", nil, true},
		{"work@x.1", nil, true},
	}
	for _, tt := range tests {
		f, err := parseFaults(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v", tt.in, err)
			continue
		}
		if len(f) != len(tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, f, tt.want)
		}
		for _, k := range tt.want {
			if !f[k] {
				t.Errorf("%q: %s missing from %v", tt.in, k, f)
			}
		}
	}
}
