import type { CoordinationDatabase } from './coordination-database.js';
import { checkNodeId } from './identifiers.js';
import { pageOf } from './job-reads.js';
import type { Page } from './job-store.js';
import { checkLabelSelector } from './job-validation.js';
import { buildNodeListQuery, nodeFromRow, selectNodeById, type CheckedNodeQuery, type NodeRow } from './node-reads.js';
import type { NodeListQuery, NodeRegistryStore, RegisteredNode, RegisterNodeInput } from './node-registry.js';
import { registerNodeInTx, unregisterNodeInTx } from './node-registry-writes.js';
import { checkNewNode, checkNodeKind } from './node-validation.js';
import { checkPageSize, decodePageToken, queryFingerprint } from './page-token.js';

/**
 * The node registry on coordination.db. Like the other facades it checks every input before
 * touching the file, then makes exactly one decision per call, answered once committed.
 */
export class SqliteNodeRegistry implements NodeRegistryStore {
  constructor(
    private readonly coordination: CoordinationDatabase,
    private readonly now: () => number = Date.now,
  ) {}

  async register(input: RegisterNodeInput): Promise<RegisteredNode> {
    const node = checkNewNode(input);
    return this.coordination.write(() => registerNodeInTx(this.coordination, node, this.now()));
  }

  async unregister(nodeId: string): Promise<RegisteredNode> {
    const id = checkNodeId(nodeId);
    return this.coordination.write(() => unregisterNodeInTx(this.coordination, id, this.now()));
  }

  async get(nodeId: string): Promise<RegisteredNode> {
    const id = checkNodeId(nodeId);
    return this.coordination.readCommitted(() => selectNodeById(this.coordination, id, this.now()));
  }

  async list(query: NodeListQuery): Promise<Page<RegisteredNode>> {
    const checked: CheckedNodeQuery = {
      kind: query.kind === undefined ? '' : checkNodeKind('kind', query.kind),
      online: query.online,
      labels: checkLabelSelector(query.labelSelector),
      includeArchived: query.includeArchived ?? false,
      pageSize: checkPageSize(query.pageSize),
    };
    const fingerprint = queryFingerprint(['nodes', { ...checked, pageSize: undefined }]);
    const cursor = decodePageToken(query.pageToken, fingerprint);
    // One clock reading for the filter and for every node's `online`, so that they agree.
    const now = this.now();
    const { sql, params } = buildNodeListQuery(checked, cursor, now);
    const rows = await this.coordination.readCommitted(() => this.coordination.statement(sql).all(...params) as NodeRow[]);
    return pageOf(rows, checked.pageSize, (row) => nodeFromRow(row, now), (row) => ({ after: [0, row.id] }), fingerprint);
  }
}
