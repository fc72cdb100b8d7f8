"""Who interacts with what: the interaction matrix and its id maps, public data sets (MovieLens, Last.fm), personas and simulated demo users."""
