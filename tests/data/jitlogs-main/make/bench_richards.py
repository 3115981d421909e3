# ruff: noqa  (the workload exactly as it ran to make the fixture)
"""A task scheduler in the style of the richards benchmark: objects, method calls, small helpers."""
import pyperf


class Packet:
    def __init__(self, link, ident, kind):
        self.link = link
        self.ident = ident
        self.kind = kind
        self.datum = 0

    def append_to(self, queue):
        self.link = None
        if queue is None:
            return self
        p = queue
        while p.link is not None:
            p = p.link
        p.link = self
        return queue


class Task:
    def __init__(self, ident, priority, queue):
        self.ident = ident
        self.priority = priority
        self.queue = queue
        self.count = 0

    def is_ready(self):
        return self.queue is not None

    def take(self):
        packet = self.queue
        self.queue = packet.link
        return packet

    def run_once(self, scheduler):
        packet = self.take()
        packet.datum = next_datum(packet.datum, self.priority)
        self.count += 1
        target = scheduler.find(packet.datum % len(scheduler.tasks))
        target.queue = packet.append_to(target.queue)


def next_datum(datum, priority):
    return (datum * 7 + priority) % 1009


class Scheduler:
    def __init__(self, n):
        self.tasks = []
        for i in range(n):
            queue = None
            for j in range(3):
                queue = Packet(None, j, i % 2).append_to(queue)
            self.tasks.append(Task(i, i + 1, queue))

    def find(self, ident):
        return self.tasks[ident]

    def schedule(self, steps):
        done = 0
        while done < steps:
            for task in self.tasks:
                if task.is_ready():
                    task.run_once(self)
                    done += 1
        return sum(task.count for task in self.tasks)


def bench_richards(loops):
    t0 = pyperf.perf_counter()
    for _ in range(loops):
        Scheduler(10).schedule(2000)
    return pyperf.perf_counter() - t0


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.bench_time_func("richards", bench_richards)
