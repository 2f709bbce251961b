package kubelet

import "net/netip"

// ipam hands out pod IPs from the node's pod CIDR the way the host-local CNI plugin does: in
// order, starting after the gateway (.1), continuing after the last address handed out and
// wrapping around, skipping addresses in use.
type ipam struct {
	prefix netip.Prefix
	last   netip.Addr
	inUse  map[netip.Addr]bool
}

func newIPAM(p netip.Prefix) ipam {
	p = p.Masked()
	return ipam{prefix: p, last: p.Addr().Next(), inUse: map[netip.Addr]bool{}}
}

// allocate returns a free address, or "" when the range is exhausted or there is no CIDR.
func (a *ipam) allocate() string {
	if !a.prefix.IsValid() {
		return ""
	}
	first := a.prefix.Addr().Next().Next() // .0 is the network, .1 the bridge
	ip := a.last
	for {
		ip = ip.Next()
		if !a.prefix.Contains(ip) || isBroadcast(a.prefix, ip) {
			ip = first
		}
		if !a.inUse[ip] {
			a.inUse[ip] = true
			a.last = ip
			return ip.String()
		}
		if ip == a.last {
			return ""
		}
	}
}

func (a *ipam) release(ip string) {
	if addr, err := netip.ParseAddr(ip); err == nil {
		delete(a.inUse, addr)
	}
}

// isBroadcast reports whether ip is the last address of an IPv4 prefix.
func isBroadcast(p netip.Prefix, ip netip.Addr) bool {
	return ip.Is4() && !p.Contains(ip.Next())
}
