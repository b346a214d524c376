/**
 * A job's dependencies between tasks (resources spec §10), by task number (a task's position in
 * its job: its submit's `base` plus its index). Per task, the count of dependencies not yet
 * finished and the ends of its list of dependents; per edge, the dependent and the next edge. All
 * in growable typed arrays: memory is per task and per edge, never per pair, and a task that ends
 * walks only its own dependents, in the order they were added.
 */

const NONE = -1;

export class TaskGraph {
  #waiting = new Int32Array(0);
  #firstEdge = new Int32Array(0);
  #lastEdge = new Int32Array(0);
  #edgeTask = new Int32Array(0);
  #edgeNext = new Int32Array(0);
  #taskCapacity = 0;
  #edgeCount = 0;

  /** Makes room for task numbers below `count` (new tasks have no edges). */
  ensureTasks(count: number): void {
    if (count <= this.#taskCapacity) return;
    const capacity = Math.max(count, this.#taskCapacity * 2, 16);
    this.#waiting = grow(this.#waiting, capacity, 0);
    this.#firstEdge = grow(this.#firstEdge, capacity, NONE);
    this.#lastEdge = grow(this.#lastEdge, capacity, NONE);
    this.#taskCapacity = capacity;
  }

  /** `task` waits for `dependency` to finish. */
  addEdge(dependency: number, task: number): void {
    const edge = this.#edgeCount++;
    if (edge >= this.#edgeTask.length) {
      const capacity = Math.max(16, this.#edgeTask.length * 2);
      this.#edgeTask = grow(this.#edgeTask, capacity, 0);
      this.#edgeNext = grow(this.#edgeNext, capacity, NONE);
    }
    this.#edgeTask[edge] = task;
    this.#edgeNext[edge] = NONE;
    const last = this.#lastEdge[dependency];
    if (last === NONE) this.#firstEdge[dependency] = edge;
    else this.#edgeNext[last] = edge;
    this.#lastEdge[dependency] = edge;
    this.#waiting[task]++;
  }

  /** How many of the task's dependencies have not finished (dropped ones not counted). */
  waitingDeps(task: number): number {
    return task < this.#taskCapacity ? this.#waiting[task] : 0;
  }

  /**
   * The task's dependency finished: counts it off each dependent and calls `onReady` for those
   * left waiting for nothing, in the order they were added.
   */
  release(task: number, onReady: (dependent: number) => void): void {
    if (task >= this.#taskCapacity) return;
    for (let edge = this.#firstEdge[task]; edge !== NONE; edge = this.#edgeNext[edge]) {
      const dependent = this.#edgeTask[edge];
      if (--this.#waiting[dependent] === 0) onReady(dependent);
    }
  }

  /** Calls `visit` for each direct dependent of the task, in the order they were added. */
  forEachDependent(task: number, visit: (dependent: number) => void): void {
    if (task >= this.#taskCapacity) return;
    for (let edge = this.#firstEdge[task]; edge !== NONE; edge = this.#edgeNext[edge]) {
      visit(this.#edgeTask[edge]);
    }
  }

  get edgeCount(): number {
    return this.#edgeCount;
  }
}

function grow(array: Int32Array, capacity: number, fill: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(capacity);
  grown.set(array);
  if (fill !== 0) grown.fill(fill, array.length);
  return grown;
}
