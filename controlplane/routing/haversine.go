package routing

import "math"

// EarthRadiusKm is the Earth's mean radius (IUGG), the sphere Haversine
// measures on.
const EarthRadiusKm = 6371.0088

// AntipodeKm is the farthest apart two places on that sphere can be. An
// edge whose distance from the client cannot be known scores as if it
// were this far away: behind every edge that can be measured.
const AntipodeKm = math.Pi * EarthRadiusKm

// Haversine returns the great-circle distance in km between two points
// given in degrees. On a sphere it is within about 0.5% of the geodesic on
// the ellipsoid, far finer than GeoIP's accuracy.
func Haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ, dλ := (lat2-lat1)*rad, (lon2-lon1)*rad
	s1, s2 := math.Sin(dφ/2), math.Sin(dλ/2)
	a := s1*s1 + math.Cos(φ1)*math.Cos(φ2)*s2*s2
	a = min(max(a, 0), 1) // rounding can push antipodes past 1
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(a))
}
