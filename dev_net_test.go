package main

import "net"

func netListenUDP(addr string) (net.PacketConn, error) { return net.ListenPacket("udp", addr) }
