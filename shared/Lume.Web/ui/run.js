// The run page: header, cancel, the task graph (Cytoscape, laid out by layout.js), the timeline and a task's details,
// live from /api/runs/{id}/events.
import cytoscape from './vendor/cytoscape.esm.min.js';
import { el, clear, duration, time, seconds, errorBanner } from './dom.js';
import { api, apiRaw, liveEvents, token } from './api.js';
import { color, textColor, aggregate, countsText, badge, COLORS, FINAL } from './states.js';
import { layered } from './layout.js';

const CHILD = /^(.+)\[(\d+)\]$/;
const BIG = 1000;
const MIN_FIT_ZOOM = 0.6;
const TIMELINE_FIRST = 200;
const TIMELINE_MORE = 500;

export function mount(root, { params }) {
  performance.mark('lume:run-mount');
  const runId = params[0];
  const page = new RunPage(root, runId);
  return () => page.stop();
}

class RunPage {
  constructor(root, runId) {
    this.runId = runId;
    this.run = null;                 // the snapshot without its tasks
    this.tasks = new Map();          // slug -> task (parents, children, all)
    this.order = [];                 // top-level slugs in task order
    this.children = new Map();       // mapped parent slug -> [child slugs by index]
    this.graph = null;               // /api/flows/{flow}/graph
    this.mapped = new Set();         // slugs of mapped tasks
    this.expanded = new Set();
    this.selected = null;
    this.cy = null;
    this.timelineLimit = TIMELINE_FIRST;
    this.stopped = false;
    this.timers = [];
    this.build(root);
    this.connect();
    // While the run's snapshot is on its way, draw a throwaway graph off screen: the first Cytoscape graph of a page
    // costs several times what the next one does (its code is not yet compiled), and the wait is otherwise idle.
    setTimeout(() => { if (!this.cy && !this.stopped) warmUp(); }, 0);
  }

  build(root) {
    this.banner = el('div', { class: 'banner-area' });
    this.flowEl = el('span', { id: 'run-flow' }, '…');
    this.stateEl = el('span', { id: 'run-state', class: 'badge' }, '');
    this.cancelArea = el('span', { class: 'cancel-area' });
    this.meta = el('div', { class: 'run-meta' });
    this.runError = el('div', { class: 'run-error-area' });
    this.graphEl = el('div', { id: 'graph' });
    this.details = el('aside', { id: 'task-details', class: 'card details' }, el('p', { class: 'muted' }, 'Click a task in the graph or the timeline.'));
    this.timeline = el('div', { id: 'timeline' });
    this.graphNote = el('span', { class: 'muted graph-note' });
    root.append(
      el('div', { class: 'card run-head' },
        el('div', { class: 'run-title' }, el('h1', null, this.flowEl), this.stateEl, el('span', { class: 'spacer' }), this.cancelArea),
        this.meta, this.runError),
      this.banner,
      el('div', { class: 'run-body' },
        el('div', { class: 'card graph-card' },
          el('div', { class: 'graph-head' }, el('h2', null, 'Tasks'), this.graphNote, el('span', { class: 'spacer' }), legend()),
          this.graphEl),
        this.details),
      el('div', { class: 'card' }, el('h2', null, 'Timeline'), this.timeline));
  }

  stop() {
    this.stopped = true;
    if (this.overlay) this.overlay.destroy();
    if (this.stopStream) this.stopStream();
    for (const t of this.timers) clearInterval(t);
    if (this.cy) { this.cy.destroy(); this.cy = null; }
    window.lume.graph = null;
  }

  showError(error) {
    clear(this.banner);
    if (error) this.banner.append(errorBanner(error));
  }

  // --- data -----------------------------------------------------------------------------------------------------

  connect() {
    let fellBack = false;
    this.stopStream = liveEvents(`/api/runs/${encodeURIComponent(this.runId)}/events`, {
      onOpen: () => performance.mark('lume:stream-open'),
      onEvent: (name, data) => {
        if (this.stopped) return 'stop';
        if (name === 'snapshot') { this.showError(null); this.onSnapshot(data).catch((error) => this.showError(error)); }
        else if (name === 'update') this.onUpdate(data);
        else if (name === 'end') { this.refreshHeader(); return 'stop'; }
        return undefined;
      },
      onError: (error) => {
        if (this.stopped) return;
        if (!this.run && !fellBack) {
          // No stream (yet): read the run once, then every two seconds while it runs.
          fellBack = true;
          this.stopStream();
          this.poll();
        } else if (error.status === 401 || error.status === 404) {
          this.showError(error);
        }
      },
    });
  }

  async poll() {
    try {
      const snapshot = await api(`/api/runs/${encodeURIComponent(this.runId)}`);
      if (this.stopped) return;
      this.showError(null);
      await this.onSnapshot(snapshot);
      if (snapshot.state === 'running') setTimeout(() => { if (!this.stopped) this.poll(); }, 2000);
    } catch (error) {
      if (!this.stopped) this.showError(error);
    }
  }

  async onSnapshot(snapshot) {
    performance.mark('lume:snapshot');
    const first = this.run === null;
    const { tasks, ...run } = snapshot;
    this.run = run;
    this.tasks.clear();
    this.order = [];
    this.children.clear();
    this.addTasks(tasks || []);
    this.refreshHeader();
    if (first) {
      await this.loadGraph();
      performance.mark('lume:graph-loaded');
      if (this.stopped) return;
      this.drawGraph();
      this.timers.push(setInterval(() => this.tick(), 1000));
    } else {
      this.syncGraph(true);
    }
    this.renderTimeline();
    this.renderDetails();
  }

  addTasks(list) {
    const grown = new Set();
    for (const task of list) {
      const known = this.tasks.has(task.slug);
      this.tasks.set(task.slug, task);
      if (known) continue;
      const m = CHILD.exec(task.slug);
      if (m && (this.tasks.has(m[1]) || this.mapped.has(m[1]))) {
        const parent = m[1];
        let kids = this.children.get(parent);
        if (!kids) { kids = []; this.children.set(parent, kids); }
        kids.push(task.slug);
        this.mapped.add(parent);
        grown.add(parent);
      } else {
        this.order.push(task.slug);
      }
    }
    for (const parent of grown) this.children.get(parent).sort((a, b) => index(a) - index(b));
    return grown;
  }

  onUpdate(update) {
    if (!this.run) return;
    if (update.run) Object.assign(this.run, update.run);
    const changed = update.tasks || [];
    const grown = this.addTasks(changed);
    this.refreshHeader();
    if (this.cy) {
      const relayout = [...grown].some((p) => this.expanded.has(p));
      if (relayout) this.syncGraph(true);
      else {
        this.cy.batch(() => {
          const parents = new Set();
          for (const task of changed) {
            this.paint(task.slug);
            const m = CHILD.exec(task.slug);
            if (m && this.mapped.has(m[1])) parents.add(m[1]);
          }
          for (const p of parents) this.paint(p);
        });
      }
    }
    this.timelineDirty = true;
    if (this.selected && (changed.some((t) => t.slug === this.selected || CHILD.exec(t.slug)?.[1] === this.selected))) this.renderDetails();
  }

  async loadGraph() {
    if (!this.run.version && this.run.version !== 0) return;
    try {
      this.graph = await api(`/api/flows/${encodeURIComponent(this.run.flow)}/graph?version=${encodeURIComponent(this.run.version)}`);
      for (const t of this.graph.tasks) if (t.mapped) this.mapped.add(t.slug);
      // Children seen before the graph said which tasks are mapped.
      const late = this.order.filter((s) => CHILD.test(s) && this.mapped.has(CHILD.exec(s)[1]));
      if (late.length) {
        const all = [...this.tasks.values()];
        this.tasks.clear(); this.order = []; this.children.clear();
        this.addTasks(all);
      }
    } catch (error) {
      this.graphNote.textContent = `No graph of ${this.run.flow} v${this.run.version} (${error.title || error.message}): tasks shown without their edges.`;
    }
  }

  // --- header ---------------------------------------------------------------------------------------------------

  refreshHeader() {
    const run = this.run;
    if (!run) return;
    document.title = `${run.flow} · ${run.state} · Lume`;
    this.flowEl.textContent = run.flow;
    this.stateEl.textContent = run.state;
    this.stateEl.dataset.state = run.state;
    this.stateEl.style.background = color(run.state);
    this.stateEl.style.color = textColor(run.state);
    clear(this.meta);
    this.durationEl = el('span', { id: 'run-duration' }, duration(seconds(run.createdAt, run.finishedAt)));
    const items = [
      item('Run', el('span', { class: 'mono' }, run.runId)),
      item('Version', String(run.version ?? '')),
      item('Created', time(run.createdAt)),
      run.finishedAt ? item('Finished', time(run.finishedAt)) : null,
      item('Duration', this.durationEl),
      item('Tasks', String(run.taskCount ?? this.tasks.size)),
      run.parentRunId ? item('Parent run', el('a', { href: `/runs/${run.parentRunId}`, class: 'parent-link' },
        run.parentRunId.slice(0, 8), run.parentTask ? ` (task ${run.parentTask})` : '')) : null];
    this.meta.append(...items.filter(Boolean));
    clear(this.runError);
    if (run.error || run.failedTask) {
      this.runError.append(el('div', { class: 'run-error' },
        run.failedTask ? el('span', null, 'Failed task ', el('a', { href: '#', onclick: (e) => { e.preventDefault(); this.select(run.failedTask); } }, run.failedTask), ': ') : null,
        run.error || ''));
    }
    const running = run.state === 'running';
    const existing = document.getElementById('cancel-run');
    if (running && !existing) {
      this.cancelArea.append(el('button', { id: 'cancel-run', type: 'button', class: 'danger', onclick: () => this.cancel() }, 'Cancel run'));
    } else if (!running && existing) {
      existing.remove();
    }
  }

  async cancel() {
    if (!confirm(`Cancel run ${this.runId} of ${this.run.flow}?`)) return;
    const button = document.getElementById('cancel-run');
    if (button) button.disabled = true;
    try {
      const answer = await api(`/api/runs/${encodeURIComponent(this.runId)}/cancel`, { method: 'POST', body: { reason: 'cancelled in the web view' } });
      if (answer && this.run) { Object.assign(this.run, { state: answer.state, finishedAt: answer.finishedAt, error: answer.error, failedTask: answer.failedTask }); }
      this.refreshHeader();
    } catch (error) {
      this.showError(error);
      if (button) button.disabled = false;
    }
  }

  tick() {
    if (!this.run) return;
    if (this.durationEl) this.durationEl.textContent = duration(seconds(this.run.createdAt, this.run.finishedAt));
    if (this.run.state === 'running' || this.timelineDirty) this.renderTimeline();
  }

  // --- graph ----------------------------------------------------------------------------------------------------

  /** The nodes and edges to show now: top-level tasks, and the children of expanded mapped tasks. */
  elements() {
    const nodes = [];
    const edges = [];
    const layoutEdges = [];
    const seen = new Set();
    const specs = this.graph ? this.graph.tasks : [];
    const succ = new Map();
    for (const spec of specs) {
      seen.add(spec.slug);
      nodes.push({ slug: spec.slug, spec });
      for (const up of spec.upstream || []) {
        edges.push([up, spec.slug]);
        if (!succ.has(up)) succ.set(up, []);
        succ.get(up).push(spec.slug);
      }
    }
    for (const slug of this.order) if (!seen.has(slug)) { seen.add(slug); nodes.push({ slug, spec: null }); }
    const shown = nodes.map((n) => n.slug);
    for (const parent of this.expanded) {
      const kids = this.children.get(parent) || [];
      for (const kid of kids) {
        shown.push(kid);
        nodes.push({ slug: kid, spec: null, child: parent });
        edges.push([parent, kid]);
        for (const s of succ.get(parent) || []) layoutEdges.push([kid, s]);
      }
    }
    return { nodes, edges, layoutEdges, shown };
  }

  nodeData(slug, spec, child) {
    const task = this.tasks.get(slug);
    const own = task ? task.state : 'pending';
    const data = { id: slug, state: own, label: child ? `[${index(slug)}]` : slug };
    if (this.mapped.has(slug) || (spec && spec.mapped)) {
      const counts = {};
      for (const kid of this.children.get(slug) || []) {
        const s = this.tasks.get(kid)?.state || 'pending';
        counts[s] = (counts[s] || 0) + 1;
      }
      const n = (this.children.get(slug) || []).length;
      data.mapped = true;
      data.counts = counts;
      data.expanded = this.expanded.has(slug);
      data.label = n ? `${slug} ×${n}` : `${slug} ×…`;
      data.shade = n ? aggregate(counts, own) : own;
    } else {
      data.shade = own;
    }
    if (spec && spec.subflow) { data.subflow = spec.subflow; }
    if (task && task.subflowRunId) data.subflowRunId = task.subflowRunId;
    if (spec && spec.trigger === 'manual_only') data.manual = true;
    data.color = color(data.shade);
    data.tc = textColor(data.shade);
    return data;
  }

  paint(slug) {
    const node = this.cy.getElementById(slug);
    if (node.empty()) return;
    const m = CHILD.exec(slug);
    const parent = m && this.mapped.has(m[1]) ? m[1] : null;
    const spec = this.specOf(slug);
    const data = this.nodeData(slug, spec, parent);
    if (node.data('shown') !== undefined) data.shown = data.label;
    node.data(data);
  }

  specOf(slug) {
    if (!this.graph) return null;
    if (!this.specIndex) this.specIndex = new Map(this.graph.tasks.map((t) => [t.slug, t]));
    return this.specIndex.get(slug) || null;
  }

  positions({ nodes, edges, layoutEdges }) {
    return layered(nodes.map((n) => n.slug), edges.concat(layoutEdges), { xGap: 200, yGap: 44 });
  }

  drawGraph() {
    noCytoscapeStyleElement();
    performance.mark('lume:draw-start');
    const model = this.elements();
    const pos = this.positions(model);
    performance.mark('lume:layout-done');
    const big = model.nodes.length > BIG;
    this.big = big;
    const elements = [];
    for (const n of model.nodes) elements.push({ group: 'nodes', data: this.nodeData(n.slug, n.spec, n.child), position: pos.get(n.slug) });
    // A big graph's edges are drawn on a canvas of their own under the nodes (EdgeOverlay): as Cytoscape elements,
    // 10,000 edges would double the time to the first picture.
    if (!big) for (const [a, b] of model.edges) elements.push({ group: 'edges', data: { id: `${a}->${b}`, source: a, target: b } });
    const cy = cytoscape({
      container: this.graphEl,
      elements,
      layout: { name: 'preset', fit: true, padding: 20, animate: false },
      style: graphStyle(big),
      minZoom: 0.02,
      maxZoom: 3,
      boxSelectionEnabled: false,
      selectionType: 'single',
      textureOnViewport: big,
      hideEdgesOnViewport: big,
      motionBlur: false,
      pixelRatio: big ? 1 : 'auto',
      autoungrabify: big,
    });
    performance.mark('lume:cy-created');
    this.cy = cy;
    // A small graph fitted to the box would be drawn huge: no closer than 1:1.
    this.fit();
    window.lume.graph = cy;
    if (big) {
      this.overlay = new EdgeOverlay(cy, this.graphEl);
      this.overlay.setEdges(model.edges, pos);
      this.lazyLabels(cy);
    }
    cy.on('tap', 'node', (event) => {
      const slug = event.target.id();
      if (event.target.data('mapped')) this.toggle(slug);
      this.select(slug);
    });
    const ready = () => {
      if (this.stopped || this.graphEl.dataset.ready === 'true') return;
      this.graphEl.dataset.ready = 'true';
      this.graphEl.dataset.nodes = String(cy.nodes().length);
      performance.mark('lume:graph-ready');
      const [nav] = performance.getEntriesByType('navigation');
      const mark = performance.getEntriesByName('lume:graph-ready').pop();
      console.info(`lume:graph-ready ${cy.nodes().length} nodes in ${Math.round(mark.startTime - (nav ? nav.startTime : 0))} ms`);
    };
    cy.one('render', ready);
    setTimeout(ready, 1000);
  }

  /**
   * Measuring 5,000 labels is a good part of the time to draw a big graph, and none is legible when it is shown whole:
   * a node gets its label (data 'shown') when it is in view at a zoom where the label can be read.
   */
  lazyLabels(cy) {
    let timer = null;
    const show = () => {
      timer = null;
      if (cy.destroyed() || cy.zoom() * 12 < 7) return;
      const { x1, x2, y1, y2 } = cy.extent();
      cy.batch(() => {
        cy.nodes().forEach((node) => {
          if (node.data('shown') !== undefined) return;
          const p = node.position();
          if (p.x >= x1 - 100 && p.x <= x2 + 100 && p.y >= y1 - 30 && p.y <= y2 + 30) node.data('shown', node.data('label'));
        });
      });
    };
    cy.on('viewport', () => { if (!timer) timer = setTimeout(show, 120); });
    this.showLabels = show;
  }

  toggle(slug) {
    if (this.expanded.has(slug)) this.expanded.delete(slug); else this.expanded.add(slug);
    this.syncGraph(true);
    this.fit();
  }

  /** Shows the whole graph, no closer than 1:1; a big one stays where it is, around the node clicked. */
  fit() {
    const cy = this.cy;
    if (cy.nodes().length > BIG) return;
    cy.fit(undefined, 20);
    if (cy.zoom() > 1) {
      cy.zoom(1);
      cy.center();
    } else if (cy.zoom() < MIN_FIT_ZOOM) {
      // A long chain fitted whole would be unreadable: legible from its start instead (pan and zoom to see the rest).
      const bb = cy.nodes().boundingBox();
      cy.zoom(MIN_FIT_ZOOM);
      cy.pan({ x: 20 - bb.x1 * MIN_FIT_ZOOM, y: cy.height() / 2 - ((bb.y1 + bb.y2) / 2) * MIN_FIT_ZOOM });
    }
  }

  /** Brings the graph's elements and positions in line with the model (new children, expand/collapse). */
  syncGraph(relayout) {
    const cy = this.cy;
    if (!cy) return;
    const model = this.elements();
    const pos = relayout ? this.positions(model) : null;
    cy.batch(() => {
      const wanted = new Set(model.nodes.map((n) => n.slug));
      cy.nodes().filter((n) => !wanted.has(n.id())).remove();
      const add = [];
      for (const n of model.nodes) {
        const data = this.nodeData(n.slug, n.spec, n.child);
        const node = cy.getElementById(n.slug);
        if (node.empty()) add.push({ group: 'nodes', data, position: pos ? pos.get(n.slug) : { x: 0, y: 0 } });
        else { if (node.data('shown') !== undefined) data.shown = data.label; node.data(data); if (pos) node.position(pos.get(n.slug)); }
      }
      if (!this.overlay && model.nodes.length > BIG) {
        // Grown big by expanding: its edges move to the canvas too.
        cy.edges().remove();
        cy.autoungrabify(true);
        this.overlay = new EdgeOverlay(cy, this.graphEl);
      }
      if (!this.overlay) {
        for (const [a, b] of model.edges) {
          const id = `${a}->${b}`;
          if (cy.getElementById(id).empty()) add.push({ group: 'edges', data: { id, source: a, target: b } });
        }
      }
      if (add.length) cy.add(add);
    });
    if (this.overlay) {
      const at = pos || new Map(cy.nodes().map((n) => [n.id(), n.position()]));
      this.overlay.setEdges(model.edges, at);
    }
    this.graphEl.dataset.nodes = String(cy.nodes().length);
    if (this.selected) cy.getElementById(this.selected).select();
    if (this.showLabels) this.showLabels();
  }

  // --- selection and details -----------------------------------------------------------------------------------

  select(slug) {
    this.selected = slug;
    if (this.cy) {
      this.cy.elements(':selected').unselect();
      const m = CHILD.exec(slug);
      if (m && this.mapped.has(m[1]) && !this.expanded.has(m[1]) && this.cy.getElementById(slug).empty()) this.toggle(m[1]);
      this.cy.getElementById(slug).select();
    }
    for (const row of this.timeline.querySelectorAll('.tl-row.selected')) row.classList.remove('selected');
    const row = this.timeline.querySelector(`.tl-row[data-slug="${CSS.escape(slug)}"]`);
    if (row) row.classList.add('selected');
    this.renderDetails();
  }

  renderDetails() {
    const slug = this.selected;
    const panel = this.details;
    if (!slug) return;
    const task = this.tasks.get(slug);
    clear(panel);
    panel.dataset.slug = slug;
    panel.append(el('div', { class: 'details-head' },
      el('h2', null, slug),
      el('button', { type: 'button', class: 'link-button', onclick: () => this.unselect() }, '×')));
    if (!task) {
      panel.append(el('p', { class: 'task-state' }, 'pending'), el('p', { class: 'muted' }, 'Not started yet.'));
      return;
    }
    const kids = this.children.get(slug);
    const rows = [
      ['State', el('span', { class: 'task-state' }, task.state)],
      ['Type', task.taskType || ''],
      ['Worker', el('span', { class: 'task-worker' }, task.worker || '—')],
      ['Attempt', String(task.attempt ?? '')],
      ['Times', el('span', { class: 'task-times' }, timesText(task))],
    ];
    if (task.retryAt) rows.push(['Retry at', time(task.retryAt)]);
    if (kids) rows.push(['Mapped', el('span', { class: 'task-counts' }, `${kids.length} tasks: ${countsText(this.nodeData(slug, this.specOf(slug)).counts)}`)]);
    panel.append(el('dl', { class: 'facts' }, rows.map(([k, v]) => [el('dt', null, k), el('dd', null, v)])));
    if (kids) {
      panel.append(el('p', null, el('button', { type: 'button', class: 'secondary', onclick: () => this.toggle(slug) },
        this.expanded.has(slug) ? 'Hide its tasks' : `Show its ${kids.length} tasks`)));
    }
    if (task.state === 'paused') {
      const note = el('div', { class: 'approve-area' });
      const button = el('button', { type: 'button', class: 'approve', onclick: () => this.approve(slug, button, note) }, 'Approve');
      panel.append(el('p', null, button), note);
    }
    if (task.subflowRunId) {
      panel.append(el('p', null, 'Subflow run: ', el('a', { class: 'subflow-link', href: `/runs/${task.subflowRunId}` }, task.subflowRunId)));
    }
    if (task.error || task.errorType) {
      panel.append(el('h3', null, 'Error'), el('pre', { class: 'task-error' }, `${task.errorType || 'error'}: ${task.error || ''}`));
    }
    if (task.result !== null && task.result !== undefined) {
      const files = [];
      const results = [];
      findReps(task.result, files, results);
      if (files.length) {
        panel.append(el('h3', null, 'Files'), el('ul', { class: 'links' }, files.map((rep) => el('li', null,
          this.repLink('file-link', `/api/files/content?rep=${encodeURIComponent(JSON.stringify(rep))}`, rep.filename, panel)))));
      }
      if (results.length) {
        panel.append(el('h3', null, 'Stored results'), el('ul', { class: 'links' }, results.map((rep) => el('li', null,
          this.repLink('result-link', `/api/result?rep=${encodeURIComponent(JSON.stringify(rep))}`, `${rep.project_name}: ${rep.result_type_string}`, panel)))));
      }
      panel.append(el('h3', null, 'Result'), el('pre', { class: 'task-result' }, JSON.stringify(task.result, null, 2)));
    }
    if (task.pastAttempts && task.pastAttempts.length) {
      panel.append(el('h3', null, 'Past attempts'), el('ol', { class: 'task-attempts' }, task.pastAttempts.map((a) => el('li', null,
        el('div', null, `attempt ${a.attempt}: `, el('strong', null, a.outcome || ''), a.worker ? ` on ${a.worker}` : '',
          a.startedAt ? ` · ${time(a.startedAt)} → ${time(a.finishedAt)}` : ''),
        a.error || a.errorType ? el('pre', { class: 'attempt-error' }, `${a.errorType || 'error'}: ${a.error || ''}`) : null))));
    }
    this.fileView = el('div', { class: 'file-view-area' });
    panel.append(this.fileView);
  }

  unselect() {
    this.selected = null;
    if (this.cy) this.cy.elements(':selected').unselect();
    clear(this.details);
    delete this.details.dataset.slug;
    this.details.append(el('p', { class: 'muted' }, 'Click a task in the graph or the timeline.'));
  }

  /** A link to a file or a stored result; with a token it is fetched with it and shown here. */
  repLink(cls, href, text) {
    return el('a', {
      class: cls, href, target: '_blank', rel: 'noopener',
      onclick: async (event) => {
        if (!token()) return;
        event.preventDefault();
        const view = this.fileView;
        clear(view);
        try {
          const response = await apiRaw(href);
          const type = response.headers.get('content-type') || '';
          if (type.includes('json')) view.append(el('h3', null, text), el('pre', { class: 'file-view' }, JSON.stringify(await response.json(), null, 2)));
          else if (type.startsWith('text/')) view.append(el('h3', null, text), el('pre', { class: 'file-view' }, await response.text()));
          else {
            const url = URL.createObjectURL(await response.blob());
            view.append(el('p', null, el('a', { href: url, download: text }, `Download ${text}`)));
          }
        } catch (error) {
          view.append(errorBanner(error));
        }
      },
    }, text);
  }

  async approve(slug, button, note) {
    button.disabled = true;
    clear(note);
    try {
      const answer = await api(`/api/runs/${encodeURIComponent(this.runId)}/tasks/${encodeURIComponent(slug)}/approve`, { method: 'POST' });
      note.append(el('p', { class: 'ok' }, `Approved${answer && answer.reason ? `: ${answer.reason}` : ''}.`));
    } catch (error) {
      note.append(errorBanner(error));
      button.disabled = false;
    }
  }

  // --- timeline -------------------------------------------------------------------------------------------------

  /** The timeline: rows made once for the tasks shown, their bars and the scale updated in place (a click is never lost to a redraw). */
  renderTimeline() {
    this.timelineDirty = false;
    const run = this.run;
    if (!run) return;
    const now = Date.now();
    const start = Date.parse(run.createdAt);
    let end = run.finishedAt ? Date.parse(run.finishedAt) : now;
    const slugs = this.order;
    const shown = slugs.slice(0, this.timelineLimit);
    const spans = shown.map((slug) => {
      const span = this.spanOf(slug, now);
      if (span && span.to > end) end = span.to;
      return span;
    });
    const total = Math.max(end - start, 1);
    const key = `${shown.length}:${slugs.length}:${shown[shown.length - 1] || ''}`;
    if (key !== this.timelineKey) this.buildTimeline(shown, slugs.length, key);
    this.ticks[0].textContent = duration(total / 2000);
    this.ticks[1].textContent = duration(total / 1000);
    shown.forEach((slug, i) => {
      const span = spans[i];
      const { row, bar, label } = this.timelineRows.get(slug);
      const kids = this.children.get(slug);
      label.textContent = kids ? `${slug} ×${kids.length}` : slug;
      row.dataset.state = span ? span.state : (this.tasks.get(slug)?.state || 'pending');
      row.classList.toggle('selected', slug === this.selected);
      bar.classList.toggle('none', !span);
      if (span) {
        bar.style.left = `${((span.from - start) / total) * 100}%`;
        bar.style.width = `${Math.max(((span.to - span.from) / total) * 100, 0.3)}%`;
        bar.style.background = color(span.state);
        bar.title = `${span.state} · ${duration((span.to - span.from) / 1000)}`;
      }
    });
  }

  buildTimeline(shown, count, key) {
    this.timelineKey = key;
    this.timelineRows = new Map();
    const box = this.timeline;
    clear(box);
    this.ticks = [el('span', { class: 'tl-tick mid' }), el('span', { class: 'tl-tick right' })];
    box.append(el('div', { class: 'tl-row tl-scale' }, el('span', { class: 'tl-label' }, ''),
      el('div', { class: 'tl-track' }, el('span', { class: 'tl-tick left' }, '0s'), this.ticks)));
    const rows = document.createDocumentFragment();
    for (const slug of shown) {
      const bar = el('div', { class: 'tl-bar none' });
      const label = el('span', { class: 'tl-label', title: slug }, slug);
      const row = el('div', {
        class: 'tl-row', dataset: { slug }, role: 'button', tabindex: 0,
        onclick: () => this.select(slug),
        onkeydown: (event) => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); this.select(slug); } },
      }, label, el('div', { class: 'tl-track' }, bar));
      this.timelineRows.set(slug, { row, bar, label });
      rows.append(row);
    }
    box.append(rows);
    if (count > shown.length) {
      const more = Math.min(TIMELINE_MORE, count - shown.length);
      box.append(el('div', { class: 'tl-more' },
        el('button', { type: 'button', class: 'secondary', onclick: () => { this.timelineLimit += TIMELINE_MORE; this.renderTimeline(); } },
          `show ${more} more`), el('span', { class: 'muted' }, ` (${count - shown.length} not shown)`)));
    }
  }

  /** A row's bar: the task's own times, or for a mapped task from its first child's start to its last one's end. */
  spanOf(slug, now) {
    const task = this.tasks.get(slug);
    if (!task) return null;
    const kids = this.children.get(slug);
    // A task that ended without starting (failed on its worker's way in, skipped) shows from ready to finished.
    const begun = task.startedAt || (task.finishedAt && task.state !== 'skipped' && task.state !== 'cancelled' ? task.readyAt || task.finishedAt : null);
    let from = begun ? Date.parse(begun) : Infinity;
    let to = task.finishedAt ? Date.parse(task.finishedAt) : (begun ? now : -Infinity);
    let state = task.state;
    if (kids && kids.length) {
      const counts = {};
      for (const kid of kids) {
        const k = this.tasks.get(kid);
        if (!k) continue;
        counts[k.state] = (counts[k.state] || 0) + 1;
        if (k.startedAt) {
          from = Math.min(from, Date.parse(k.startedAt));
          to = Math.max(to, k.finishedAt ? Date.parse(k.finishedAt) : now);
        }
      }
      state = aggregate(counts, task.state);
    }
    if (!Number.isFinite(from)) return null;
    if (!Number.isFinite(to) || to < from) to = FINAL.has(state) ? from : now;
    return { from, to, state };
  }
}

/** A big graph's edges, drawn as one path on a canvas under Cytoscape's, following its pan and zoom. */
class EdgeOverlay {
  constructor(cy, container) {
    this.cy = cy;
    this.container = container;
    this.canvas = el('canvas', { class: 'edge-layer' });
    container.prepend(this.canvas);
    this.segments = new Float64Array(0);
    this.pending = false;
    this.redraw = () => {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.draw(); });
    };
    cy.on('viewport resize', this.redraw);
  }

  setEdges(edges, positions) {
    const half = NODE_WIDTH / 2;
    const segments = new Float64Array(edges.length * 4);
    let k = 0;
    for (const [a, b] of edges) {
      const p = positions.get(a);
      const q = positions.get(b);
      if (!p || !q) continue;
      segments[k++] = p.x + half; segments[k++] = p.y; segments[k++] = q.x - half; segments[k++] = q.y;
    }
    this.segments = segments.subarray(0, k);
    this.draw();
  }

  draw() {
    if (this.cy.destroyed()) return;
    const { canvas } = this;
    const w = this.container.clientWidth;
    const h = this.container.clientHeight;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const z = this.cy.zoom();
    const pan = this.cy.pan();
    ctx.setTransform(z, 0, 0, z, pan.x, pan.y);
    ctx.lineWidth = 1 / Math.max(z, 0.05) * Math.min(1, z * 2);
    ctx.strokeStyle = 'rgba(150, 158, 168, 0.55)';
    ctx.beginPath();
    const s = this.segments;
    for (let i = 0; i < s.length; i += 4) { ctx.moveTo(s[i], s[i + 1]); ctx.lineTo(s[i + 2], s[i + 3]); }
    ctx.stroke();
  }

  destroy() { this.canvas.remove(); }
}

const NODE_WIDTH = 160;

/**
 * Cytoscape adds a <style> element of its own (which the CSP blocks, with an error in the console) unless an element
 * with this id is there; the rule it would add (its container is position: relative) is in style.css.
 */
function noCytoscapeStyleElement() {
  if (!document.getElementById('__________cytoscape_stylesheet')) {
    document.head.append(el('meta', { id: '__________cytoscape_stylesheet', name: 'cytoscape-style', content: 'in /assets/style.css' }));
  }
}

function warmUp() {
  noCytoscapeStyleElement();
  const box = el('div', { class: 'warm-up', 'aria-hidden': 'true' });
  document.body.append(box);
  const elements = [];
  for (let r = 0; r < 8; r++) {
    for (let i = 0; i < 40; i++) {
      elements.push({ group: 'nodes', data: { id: `w${r}-${i}`, label: `w${r}-${i}`, state: 'pending', shade: 'pending', color: color('pending'), tc: textColor('pending') }, position: { x: r * 200, y: i * 44 } });
    }
  }
  const cy = cytoscape({ container: box, elements, layout: { name: 'preset' }, style: graphStyle(true), textureOnViewport: true, pixelRatio: 1, autoungrabify: true });
  cy.one('render', () => { cy.destroy(); box.remove(); });
  setTimeout(() => { if (!cy.destroyed()) { cy.destroy(); box.remove(); } }, 2000);
}

function index(slug) {
  const m = CHILD.exec(slug);
  return m ? Number(m[2]) : 0;
}

function item(label, value) {
  return el('span', { class: 'meta-item' }, el('span', { class: 'meta-label' }, label), ' ', value);
}

function timesText(task) {
  const parts = [];
  if (task.readyAt) parts.push(`ready ${time(task.readyAt)}`);
  if (task.startedAt) parts.push(`started ${time(task.startedAt)}`);
  if (task.finishedAt) parts.push(`finished ${time(task.finishedAt)}`);
  if (task.startedAt) parts.push(`took ${duration(seconds(task.startedAt, task.finishedAt))}`);
  return parts.join(' · ') || '—';
}

/** File reps and result reps anywhere in a result. */
function findReps(value, files, results, depth = 0) {
  if (depth > 20 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) { for (const v of value) findReps(v, files, results, depth + 1); return; }
  if ('filename' in value && 'file_type_string' in value && 'filesystem_identifier' in value) {
    files.push({ filename: value.filename, file_type_string: value.file_type_string, filesystem_identifier: value.filesystem_identifier });
    return;
  }
  if ('project_name' in value && 'result_type_string' in value && 'query' in value) {
    results.push({ project_name: value.project_name, result_type_string: value.result_type_string, query: value.query });
    return;
  }
  for (const v of Object.values(value)) findReps(v, files, results, depth + 1);
}

function legend() {
  const entries = [
    ['completed', 'completed'], ['cached', 'cached'], ['running', 'running'], ['retrying', 'retrying'],
    ['ready', 'ready'], ['pending', 'pending'], ['paused', 'paused'], ['failed', 'failed / timed out'],
    ['skipped', 'skipped'], ['cancelled', 'cancelled'],
  ];
  return el('div', { class: 'legend' }, entries.map(([state, text]) => {
    const swatch = el('span', { class: 'swatch' });
    swatch.style.background = COLORS[state];
    return el('span', { class: 'legend-item' }, swatch, text);
  }), el('span', { class: 'legend-item' }, el('span', { class: 'swatch mapped' }), 'mapped (click)'));
}

function graphStyle(big) {
  return [
    {
      selector: 'node',
      style: {
        shape: 'round-rectangle',
        width: 160,
        height: 30,
        'background-color': 'data(color)',
        // A big graph's labels are given only to the nodes in view once they are legible (lazyLabels).
        label: big ? '' : 'data(label)',
        color: 'data(tc)',
        'font-size': 12,
        'font-family': 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
        'text-valign': 'center',
        'text-halign': 'center',
        'text-wrap': big ? 'none' : 'ellipsis',
        'text-max-width': 150,
        'min-zoomed-font-size': big ? 7 : 0,
        'border-width': 0,
      },
    },
    ...(big ? [{ selector: 'node[shown]', style: { label: 'data(shown)' } }] : []),
    { selector: 'node[?mapped]', style: { 'border-width': 4, 'border-style': 'double', 'border-color': '#1f2328' } },
    { selector: 'node[?subflow]', style: { shape: 'cut-rectangle' } },
    { selector: 'node[?manual]', style: { 'border-width': 2, 'border-style': 'dashed', 'border-color': '#8e44ad' } },
    { selector: 'node:selected', style: { 'border-width': 3, 'border-style': 'solid', 'border-color': '#111', 'overlay-opacity': 0 } },
    {
      selector: 'edge',
      style: big
        ? { 'curve-style': 'haystack', 'haystack-radius': 0, width: 1, 'line-color': '#c3c8ce' }
        : { 'curve-style': 'bezier', width: 1.5, 'line-color': '#b3b9c0', 'target-arrow-shape': 'triangle', 'target-arrow-color': '#b3b9c0', 'arrow-scale': 0.8 },
    },
  ];
}
