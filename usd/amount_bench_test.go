package usd_test

import (
	"testing"

	"github.com/usagering/usagering/usd"
)

var sink usd.Amount

func BenchmarkAdd(b *testing.B) {
	a, _ := usd.Parse("0.0054")
	for b.Loop() {
		sink = sink.Add(a)
	}
}

func BenchmarkMul(b *testing.B) {
	price, _ := usd.Parse("2.5e-06")
	for b.Loop() {
		sink, _ = price.Mul(1234)
	}
}

func BenchmarkFromFloat(b *testing.B) {
	b.Run("nanos", func(b *testing.B) {
		for b.Loop() {
			sink, _ = usd.FromFloat(0.0054)
		}
	})
	b.Run("shortest", func(b *testing.B) {
		for b.Loop() {
			sink, _ = usd.FromFloat(2.0345052083e-09)
		}
	})
}

func BenchmarkAppendDecimal(b *testing.B) {
	a, _ := usd.Parse("1234.000000020345052083")
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = a.AppendDecimal(buf[:0])
	}
}
