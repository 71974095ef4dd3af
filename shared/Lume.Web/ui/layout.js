// A layered left-to-right layout of a DAG, fast enough for thousands of nodes (dagre and ELK take seconds there):
// rank = longest path from the roots (Kahn order); order within a rank by barycenter sweeps down and up;
// x = rank * xGap, y = position * yGap (each rank centred on y = 0).

/**
 * nodes: [id...] in their natural order; edges: [[from, to]...] (unknown ids ignored).
 * Answers Map id -> {x, y, rank}.
 */
export function layered(nodes, edges, { xGap = 200, yGap = 44, sweeps = 2 } = {}) {
  const n = nodes.length;
  const index = new Map();
  nodes.forEach((id, i) => index.set(id, i));
  const succ = Array.from({ length: n }, () => []);
  const pred = Array.from({ length: n }, () => []);
  const indegree = new Int32Array(n);
  for (const [from, to] of edges) {
    const a = index.get(from);
    const b = index.get(to);
    if (a === undefined || b === undefined || a === b) continue;
    succ[a].push(b);
    pred[b].push(a);
    indegree[b]++;
  }

  // Kahn order; the rank of a node is one past the highest rank of its predecessors.
  const rank = new Int32Array(n);
  const queue = [];
  for (let i = 0; i < n; i++) if (indegree[i] === 0) queue.push(i);
  let seen = 0;
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head];
    seen++;
    for (const w of succ[v]) {
      if (rank[v] + 1 > rank[w]) rank[w] = rank[v] + 1;
      if (--indegree[w] === 0) queue.push(w);
    }
  }
  if (seen < n) {
    // A cycle (not expected of a flow): put what is left one rank past the rest.
    let max = 0;
    for (const v of queue) max = Math.max(max, rank[v]);
    for (let i = 0; i < n; i++) if (indegree[i] > 0) rank[i] = max + 1;
  }

  let maxRank = 0;
  for (let i = 0; i < n; i++) if (rank[i] > maxRank) maxRank = rank[i];
  const layers = Array.from({ length: maxRank + 1 }, () => []);
  for (let i = 0; i < n; i++) layers[rank[i]].push(i);

  const pos = new Float64Array(n);
  const place = (layer) => layer.forEach((v, i) => { pos[v] = i - (layer.length - 1) / 2; });
  layers.forEach(place);

  const sortBy = (layer, neighbours) => {
    const key = new Float64Array(layer.length);
    layer.forEach((v, i) => {
      const ns = neighbours[v];
      if (ns.length === 0) { key[i] = pos[v]; return; }
      let sum = 0;
      for (const w of ns) sum += pos[w];
      key[i] = sum / ns.length;
    });
    const order = layer.map((_, i) => i);
    order.sort((a, b) => key[a] - key[b] || a - b);
    const sorted = order.map((i) => layer[i]);
    layer.splice(0, layer.length, ...sorted);
    place(layer);
  };

  for (let s = 0; s < sweeps; s++) {
    for (let r = 1; r <= maxRank; r++) sortBy(layers[r], pred);
    for (let r = maxRank - 1; r >= 0; r--) sortBy(layers[r], succ);
  }

  const result = new Map();
  for (let i = 0; i < n; i++) result.set(nodes[i], { x: rank[i] * xGap, y: pos[i] * yGap, rank: rank[i] });
  return result;
}
