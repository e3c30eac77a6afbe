package testutil

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

func TestEventuallyReturnsWhenConditionHolds(t *testing.T) {
	n := 0
	Eventually(t, 5*time.Second, "counter reaches 3", func() bool { n++; return n >= 3 })
	if n != 3 {
		t.Fatalf("polled %d times, want 3", n)
	}
	Until(t, 5*time.Second, "no error", func() error {
		if n++; n < 5 {
			return errors.New("not yet")
		}
		return nil
	})
}

func TestFreeAddrIsBindable(t *testing.T) {
	ln, err := net.Listen("tcp", FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				b.Write([]byte("x"))
			}
		}()
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Fatalf("len = %d, want 800", got)
	}
	if got := LastLines("a\nb\nc\n", 2); got != "b\nc" {
		t.Fatalf("LastLines = %q", got)
	}
}
