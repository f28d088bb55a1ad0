package registry

import (
	"math"
	"testing"
)

func TestHandlesArePositiveDistinctAndNotReusedRightAway(t *testing.T) {
	r := New[string]()
	a, _ := r.Add("a")
	b, _ := r.Add("b")
	if a <= 0 || b <= 0 || a == b {
		t.Fatalf("handles %d, %d", a, b)
	}
	if _, ok := r.Remove(int64(a)); !ok {
		t.Fatal("remove a")
	}
	c, _ := r.Add("c")
	if c == a {
		t.Fatalf("handle %d reused right after removal", a)
	}
}

func TestGetAndRemoveRefuseUnknownAndOutOfRangeHandles(t *testing.T) {
	r := New[string]()
	id, _ := r.Add("x")
	for _, bad := range []int64{0, -1, math.MaxInt32 + 1, int64(id) + math.MaxUint32 + 1, int64(id) + 1} {
		if _, ok := r.Get(bad); ok {
			t.Errorf("Get(%d) found something", bad)
		}
		if _, ok := r.Remove(bad); ok {
			t.Errorf("Remove(%d) removed something", bad)
		}
	}
	if v, ok := r.Remove(int64(id)); !ok || v != "x" {
		t.Fatalf("Remove(%d) = %q, %v", id, v, ok)
	}
	if _, ok := r.Remove(int64(id)); ok {
		t.Fatal("second Remove succeeded")
	}
}

func TestReservedHandlesAreInvisibleUntilFilled(t *testing.T) {
	r := New[string]()
	id, _ := r.Reserve()
	if _, ok := r.Get(int64(id)); ok {
		t.Fatal("reserved handle visible to Get")
	}
	if _, ok := r.Remove(int64(id)); ok {
		t.Fatal("reserved handle removable by Remove")
	}
	if !r.Fill(id, "v") || r.Fill(id, "w") {
		t.Fatal("Fill must succeed exactly once")
	}
	if v, ok := r.Get(int64(id)); !ok || v != "v" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	other, _ := r.Reserve()
	r.Release(other)
	if r.Len() != 1 {
		t.Fatalf("Len = %d after releasing a reservation", r.Len())
	}
}

func TestHandlesWrapAroundSkippingLiveOnes(t *testing.T) {
	r := New[string]()
	first, _ := r.Add("first") // handle 1 stays live
	r.next = math.MaxInt32
	last, _ := r.Add("last")
	wrapped, _ := r.Add("wrapped")
	if last != math.MaxInt32 || wrapped == first || wrapped <= 0 {
		t.Fatalf("first %d last %d wrapped %d", first, last, wrapped)
	}
}
