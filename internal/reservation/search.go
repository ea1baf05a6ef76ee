package reservation

import (
	"context"
	"encoding/base64"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/pricing"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
)

// Search bounds.
const (
	DefaultRadiusM = 2000
	MaxRadiusM     = 20000
	DefaultResults = 20
	MaxResults     = 100
)

// SearchRequest asks for cars free for a window near a point (or of a zone).
type SearchRequest struct {
	Start, End  time.Time
	Near        *fleet.Point
	RadiusM     int
	ZoneID      *uuid.UUID
	SeatsMin    int
	Powertrain  *fleet.Powertrain
	MinRangeKm  int
	ModelID     *uuid.UUID
	EstimatedKm int64
	Limit       int
	Cursor      string
}

// Offer is a free car with its price for the window.
type Offer struct {
	fleet.Candidate
	Quote pricing.Quote
}

// SearchPage is one page of offers, nearest first, then cheapest.
type SearchPage struct {
	Offers     []Offer
	NextCursor *string
}

func encodeCursor(dist float64, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatFloat(dist, 'g', -1, 64) + "|" + id.String()))
}

func decodeCursor(s string) (float64, uuid.UUID, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, uuid.Nil, false
	}
	d, i, ok := strings.Cut(string(b), "|")
	dist, err1 := strconv.ParseFloat(d, 64)
	id, err2 := uuid.Parse(i)
	if !ok || err1 != nil || err2 != nil || math.IsNaN(dist) || dist < 0 {
		return 0, uuid.Nil, false
	}
	return dist, id, true
}

// Search finds the cars free for the whole window with one SQL statement,
// then prices each from one snapshot of the plans.
func (s *Service) Search(ctx context.Context, r SearchRequest) (SearchPage, error) {
	var f apperr.Fields
	plans.CheckWindow(&f, s.o.Now(), r.Start, r.End)
	q := fleet.AvailabilityQuery{Start: r.Start, End: r.End, RadiusM: r.RadiusM, ZoneID: r.ZoneID, SeatsMin: r.SeatsMin,
		Powertrain: r.Powertrain, MinRangeKm: r.MinRangeKm, ModelID: r.ModelID, Limit: r.Limit}
	switch {
	case r.ZoneID != nil && r.Near != nil:
		f.Add("zone_id", "give either lat and lng or zone_id")
	case r.ZoneID != nil:
		z, err := s.o.Fleet.Zone(ctx, *r.ZoneID)
		if apperr.Is(err, apperr.KindNotFound) {
			f.Add("zone_id", "no such zone")
		} else if err != nil {
			return SearchPage{}, err
		}
		q.Near = z.Center
	case r.Near != nil:
		q.Near = *r.Near
		if q.Near.Lat < -90 || q.Near.Lat > 90 {
			f.Add("lat", "must be from -90 to 90")
		}
		if q.Near.Lng < -180 || q.Near.Lng > 180 {
			f.Add("lng", "must be from -180 to 180")
		}
	default:
		f.Add("lat", "give lat and lng, or zone_id")
	}
	if q.RadiusM == 0 {
		q.RadiusM = DefaultRadiusM
	}
	if q.RadiusM < 50 || q.RadiusM > MaxRadiusM {
		f.Add("radius_m", "must be from 50 to 20000")
	}
	if r.SeatsMin < 0 || r.SeatsMin > 9 {
		f.Add("seats_min", "must be from 1 to 9")
	}
	if r.MinRangeKm < 0 || r.MinRangeKm > 2000 {
		f.Add("min_range_km", "must be from 0 to 2000")
	}
	if r.Powertrain != nil && *r.Powertrain != fleet.BEV && *r.Powertrain != fleet.PHEV && *r.Powertrain != fleet.ICE {
		f.Add("powertrain", "must be bev, phev or ice")
	}
	if q.Limit == 0 {
		q.Limit = DefaultResults
	}
	if q.Limit < 1 || q.Limit > MaxResults {
		f.Add("limit", "must be from 1 to 100")
	}
	if r.Cursor != "" {
		dist, id, ok := decodeCursor(r.Cursor)
		if !ok {
			f.Add("cursor", "is not a cursor returned by this search")
		}
		q.After, q.AfterID = &dist, id
	}
	if err := f.Err(); err != nil {
		return SearchPage{}, err
	}

	cands, err := s.o.Fleet.Available(ctx, q)
	if err != nil {
		return SearchPage{}, err
	}
	resolver, err := s.o.Plans.Resolver(ctx)
	if err != nil {
		return SearchPage{}, err
	}
	offers := make([]Offer, 0, len(cands))
	for _, c := range cands {
		plan, ok := resolver.For(c.ModelID, c.ZoneID)
		if !ok {
			continue // a car without a price is not offered
		}
		pq, err := pricing.QuoteRental(plan, pricing.QuoteInput{Start: r.Start, End: r.End, Loc: s.o.Location, EstimatedKm: r.EstimatedKm})
		if err != nil {
			return SearchPage{}, err
		}
		offers = append(offers, Offer{Candidate: c, Quote: pq})
	}
	var next *string
	if len(cands) == q.Limit {
		last := cands[len(cands)-1]
		c := encodeCursor(last.IndexDistance, last.VehicleID)
		next = &c
	}
	// Nearest first to the metre, then cheapest.
	sort.SliceStable(offers, func(i, j int) bool {
		di, dj := math.Round(offers[i].DistanceM), math.Round(offers[j].DistanceM)
		if di != dj {
			return di < dj
		}
		return offers[i].Quote.Total < offers[j].Quote.Total
	})
	return SearchPage{Offers: offers, NextCursor: next}, nil
}
