package pricing

import (
	"errors"
	"slices"
)

// Chain returns a Pricer that asks each of pricers in turn and answers
// with the first that does not return ErrUnknownModel: Chain(mine,
// Default()) prices the models of a table of your own and every other
// model from the embedded table. Any other error ends the search. It
// returns ErrUnknownModel when none knows the model.
func Chain(pricers ...Pricer) Pricer { return chain(slices.Clone(pricers)) }

type chain []Pricer

func (c chain) Quote(model string, u Usage) (Quote, error) {
	for _, p := range c {
		q, err := p.Quote(model, u)
		if !errors.Is(err, ErrUnknownModel) {
			return q, err
		}
	}
	return Quote{}, ErrUnknownModel
}
