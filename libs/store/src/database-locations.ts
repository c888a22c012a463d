import path from 'node:path';
import { checkNodeId } from './identifiers.js';

export type NodeDatabaseKind = 'requester' | 'compute';

export interface DatabaseLocationSettings {
  /** Holds coordination.db and, unless a template says otherwise, every node database. */
  dataDir: string;
  /** Where requester databases go; must contain "{node}". Default `{dataDir}/{node}-requester.db`. */
  jobStorePath?: string;
  /** Where compute databases go; must contain "{node}". Default `{dataDir}/{node}-compute.db`. */
  computeStorePath?: string;
}

const NODE_PLACEHOLDER = '{node}';

/** Turns node ids into file paths. The id is validated before it is put into any path. */
export class DatabaseLocations {
  readonly dataDir: string;
  private readonly templates: Record<NodeDatabaseKind, string>;

  constructor(settings: DatabaseLocationSettings) {
    this.dataDir = path.resolve(settings.dataDir);
    this.templates = {
      requester: checkTemplate('job store path', settings.jobStorePath) ?? path.join(this.dataDir, `${NODE_PLACEHOLDER}-requester.db`),
      compute: checkTemplate('compute store path', settings.computeStorePath) ?? path.join(this.dataDir, `${NODE_PLACEHOLDER}-compute.db`),
    };
  }

  get coordinationPath(): string {
    return path.join(this.dataDir, 'coordination.db');
  }

  nodeDatabasePath(kind: NodeDatabaseKind, nodeId: string): string {
    return path.resolve(this.templates[kind].replaceAll(NODE_PLACEHOLDER, checkNodeId(nodeId)));
  }
}

function checkTemplate(what: string, template: string | undefined): string | undefined {
  if (template === undefined || template === '') return undefined;
  if (!template.includes(NODE_PLACEHOLDER)) {
    throw new Error(`the ${what} template ${JSON.stringify(template)} must contain ${NODE_PLACEHOLDER}`);
  }
  return template;
}
