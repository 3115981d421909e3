"""A richards-like benchmark (a task scheduler passing packets between tasks) as a pyperf script.

Usage as with any pyperf Runner script, for example:
``python bench/bm_fixture.py --processes 2 --values 2 --warmups 1 -o out.json --inherit-environ PYTHONJITAUTO``
"""

from __future__ import annotations

import pyperf

IDLE, WORKER, HANDLER_A, HANDLER_B, DEVICE_A, DEVICE_B = range(6)
ROUNDS = 200
EXPECTED = (597, 201)  # (packets queued, tasks held) for ROUNDS, checked after every run


class Packet:
    __slots__ = ("datum", "kind", "link", "owner")

    def __init__(self, link: Packet | None, owner: int, kind: int) -> None:
        self.link = link
        self.owner = owner
        self.kind = kind
        self.datum = 0


class Task:
    __slots__ = ("held", "ident", "inbox", "priority", "state")

    def __init__(self, ident: int, priority: int) -> None:
        self.ident = ident
        self.priority = priority
        self.inbox: Packet | None = None
        self.held = False
        self.state = 0

    def receive(self, packet: Packet) -> None:
        packet.link = None
        if self.inbox is None:
            self.inbox = packet
        else:
            tail = self.inbox
            while tail.link is not None:
                tail = tail.link
            tail.link = packet

    def take(self) -> Packet | None:
        packet = self.inbox
        if packet is not None:
            self.inbox = packet.link
        return packet


class Scheduler:
    def __init__(self) -> None:
        self.tasks = [Task(i, p) for i, p in enumerate((0, 1000, 2000, 3000, 4000, 5000))]
        self.queued = 0
        self.held = 0
        self.seed = 0xABCD

    def send(self, packet: Packet, target: int) -> None:
        self.queued += 1
        packet.owner = target
        self.tasks[target].receive(packet)

    def run_idle(self, task: Task) -> None:
        # Wake a device, chosen like richards' IdleTask from a shifting seed.
        self.seed = (self.seed >> 1) ^ (0xD008 if self.seed & 1 else 0)
        device = DEVICE_B if self.seed & 1 else DEVICE_A
        self.tasks[device].held = False
        task.state += 1

    def run_worker(self, task: Task) -> None:
        packet = task.take()
        if packet is None:
            task.held = True
            self.held += 1
            return
        task.state = HANDLER_B if task.state == HANDLER_A else HANDLER_A
        packet.datum = (packet.datum * 26 + task.state) % 251
        self.send(packet, task.state)

    def run_handler(self, task: Task) -> None:
        packet = task.take()
        if packet is None:
            return
        device = DEVICE_A if task.ident == HANDLER_A else DEVICE_B
        packet.datum += 1
        self.send(packet, device)

    def run_device(self, task: Task) -> None:
        packet = task.take()
        if packet is None:
            task.held = True
            self.held += 1
            return
        self.send(packet, WORKER)

    def schedule(self, rounds: int) -> tuple[int, int]:
        worker = self.tasks[WORKER]
        for kind in (0, 1, 0, 1):
            worker.receive(Packet(None, WORKER, kind))
        runners = (self.run_idle, self.run_worker, self.run_handler, self.run_handler, self.run_device, self.run_device)
        for _ in range(rounds):
            for task in sorted(self.tasks, key=lambda t: -t.priority):
                if task.held and task.inbox is None:
                    continue
                task.held = False
                runners[task.ident](task)
        return self.queued, self.held


def workload(rounds: int = ROUNDS) -> tuple[int, int]:
    result = Scheduler().schedule(rounds)
    if rounds == ROUNDS and result != EXPECTED:
        raise RuntimeError(f"wrong result {result}, expected {EXPECTED}: the interpreter or JIT miscomputed")
    return result


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "richards-like scheduler (armjit fixture)"
    runner.bench_func("richards", workload)
