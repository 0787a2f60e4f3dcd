package ring_test

import (
	"fmt"
	"sync"

	"github.com/usagering/usagering/ring"
)

// Producers push from any goroutine; one consumer pops in batches and,
// when nothing is ready, sleeps on Ready until a batch is pending (Arm) or
// the ring is closed. Close stops intake; the consumer drains what was
// pushed before it.
func Example() {
	q, err := ring.New[int](1024)
	if err != nil {
		fmt.Println(err)
		return
	}
	consumed := make(chan int)
	go func() { // the one consumer
		sum, buf := 0, make([]int, 0, 64)
		for !q.Drained() {
			buf = q.PopBatch(buf[:0], cap(buf))
			for _, v := range buf {
				sum += v
			}
			if len(buf) == 0 && !q.Arm(cap(buf)) {
				<-q.Ready() // a batch is pending, or Close
			}
		}
		consumed <- sum
	}()

	var wg sync.WaitGroup
	for p := range 4 { // four producers, 1000 items each
		wg.Go(func() {
			for i := range 1000 {
				if err := q.Push(p*1000 + i); err != nil {
					fmt.Println(err)
					return
				}
			}
		})
	}
	wg.Wait()
	q.Close()
	fmt.Println(<-consumed) // 0 + 1 + … + 3999
	// Output: 7998000
}

// TryPush never waits: it reports false when the ring is full (or
// closed), which a caller that must not block counts as a drop.
func ExampleMPSC_TryPush() {
	q, _ := ring.New[string](2)
	fmt.Println(q.TryPush("a"), q.TryPush("b"), q.TryPush("c"))
	fmt.Println(q.PopBatch(nil, 10))
	// Output:
	// true true false
	// [a b]
}
