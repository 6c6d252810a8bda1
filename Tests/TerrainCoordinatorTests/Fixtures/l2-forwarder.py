#!/usr/bin/env python3
"""A lossy, slow wire between two interfaces: every Ethernet frame arriving on one is sent out
of the other after DELAY seconds, except a fraction LOSS that is dropped — what `tc netem
delay 50ms loss 1%` would do, for kernels without sch_netem (NamespaceTests). Run it in a
namespace holding both interfaces (up, no addresses, promiscuous); TCP above sees real delay
and real loss and retransmits. Frames are read and written with their virtio-net header
(PACKET_VNET_HDR): a veth hands over TCP segments larger than the MTU and with checksums not
yet computed, and the header tells the sending side to finish both.

    l2-forwarder.py IF_A IF_B DELAY LOSS SEED
"""
import heapq
import random
import socket
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_VNET_HDR = 15


def wire(src, dst, delay, loss, rng, counts, lock):
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    rx.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    rx.bind((src, 0))
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    tx.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    tx.bind((dst, 0))
    queue, cond = [], threading.Condition()

    def sender():
        while True:
            with cond:
                while not queue or queue[0][0] > time.monotonic():
                    cond.wait(None if not queue else max(0.0, queue[0][0] - time.monotonic()))
                _, _, frame = heapq.heappop(queue)
            try:
                tx.send(frame)
            except OSError as e:
                with lock:
                    counts["errors"] += 1
                    if counts["errors"] <= 5:
                        print(f"{src}->{dst}: send failed: {e} ({len(frame)} bytes)", file=sys.stderr, flush=True)

    threading.Thread(target=sender, daemon=True).start()
    n = 0
    while True:
        frame, address = rx.recvfrom(262144)
        if address[2] == PACKET_OUTGOING:
            continue
        with lock:
            counts["frames"] += 1
            if rng.random() < loss:
                counts["dropped"] += 1
                continue
        n += 1
        with cond:
            heapq.heappush(queue, (time.monotonic() + delay, n, frame))
            cond.notify()


def main():
    a, b, delay, loss, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    counts, lock = {"frames": 0, "dropped": 0, "errors": 0}, threading.Lock()
    for src, dst, s in ((a, b, seed), (b, a, seed + 1)):
        threading.Thread(target=wire, args=(src, dst, delay, loss, random.Random(s), counts, lock), daemon=True).start()
    print("forwarding", flush=True)
    while True:
        time.sleep(1)
        with lock:
            print(f"frames {counts['frames']} dropped {counts['dropped']} errors {counts['errors']}", flush=True)


if __name__ == "__main__":
    main()
