// Package demo loads the Hongqi Town demo data: zones around FAW's new
// headquarters in Changchun, Hongqi models, a fleet of about sixty cars, and
// one account per role. Loading is idempotent: what exists is kept.
package demo

import "github.com/hongqi-mobility/mobility/internal/fleet"

// station is a demo station.
type station struct {
	code, zh, en string
	lat, lng     float64
	radius, cap  int
	buffer       int
}

// Stations of the town, in the automotive economic development zone around
// FAW's headquarters (about 43.83°N, 125.20°E).
var stations = []station{
	{"faw-hq", "一汽总部站", "FAW HQ", 43.8310, 125.2010, 150, 24, 15},
	{"dongfeng-st", "东风大街站", "Dongfeng Street", 43.8285, 125.1950, 120, 12, 15},
	{"chuangye-st", "创业大街站", "Chuangye Street", 43.8345, 125.2085, 120, 12, 15},
	{"hongqi-culture", "红旗文化展馆站", "Hongqi Culture Pavilion", 43.8262, 125.2120, 150, 10, 20},
	{"industrial-tour", "工业旅游中心站", "Industrial Tourism Centre", 43.8380, 125.1985, 150, 10, 20},
	{"charging-hub", "红旗小镇充电枢纽", "Hongqi Town Charging Hub", 43.8230, 125.2030, 200, 40, 30},
	{"eco-park", "生态公园站", "Eco Park", 43.8410, 125.2060, 120, 8, 15},
}

// residentialArea is the town's residential quarter, where a car may be left
// anywhere inside.
var residentialArea = struct {
	code, zh, en string
	ring         []fleet.Point
}{
	"residential", "红旗小镇居住区", "Hongqi Town Residential Quarter",
	[]fleet.Point{
		{Lat: 43.8340, Lng: 125.2100}, {Lat: 43.8340, Lng: 125.2220}, {Lat: 43.8420, Lng: 125.2220},
		{Lat: 43.8420, Lng: 125.2100}, {Lat: 43.8340, Lng: 125.2100},
	},
}

// model is a demo vehicle model and how many of it the fleet has.
type model struct {
	name       string
	powertrain fleet.Powertrain
	seats      int
	rangeKm    int
	batteryKWh float64
	count      int
	features   []string
}

// Hongqi models of the demo fleet.
var models = []model{
	{"E-HS9", fleet.BEV, 7, 510, 99, 10, []string{"child_seat", "roof_box"}},
	{"E-QM5", fleet.BEV, 5, 431, 55, 16, nil},
	{"E-HS3", fleet.BEV, 5, 407, 52.5, 10, []string{"child_seat"}},
	{"HS7 PHEV", fleet.PHEV, 5, 900, 20.5, 8, nil},
	{"H5", fleet.ICE, 5, 700, 0, 10, nil},
	{"HS5", fleet.ICE, 5, 650, 0, 6, []string{"bike_rack"}},
}
