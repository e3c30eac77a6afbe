package mediajobs

import "testing"

func TestNearestKeyframe(t *testing.T) {
	kfs := []float64{0.02, 2.02, 4.02, 6.02, 8.02}
	for _, c := range []struct {
		start, end, want float64
		ok               bool
	}{
		{4, 9, 4.02, true},
		{3.1, 9, 4.02, true},
		{2.9, 9, 2.02, true},
		{7.9, 8.5, 6.02, true},
		{0, 1.0, 0, false},
	} {
		got, ok := nearestKeyframe(kfs, c.start, c.end)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("nearestKeyframe(%v, %v) = %v, %v; want %v, %v", c.start, c.end, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseKeyframes(f *testing.F) {
	f.Add([]byte(`{"packets":[{"pts_time":"2.000","flags":"K__"},{"pts_time":"2.033","flags":"___"}],"format":{"start_time":"0.020"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		parseKeyframes(raw) // never panics
	})
}
