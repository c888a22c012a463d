import type { DescField, DescMessage, DescMethod, DescOneof, DescService, Message } from '@bufbuild/protobuf';
import { AdminService, CheckpointStore, ExecutionStore, JobStore, LeaseService, LockService, NodeRegistry } from '@jobkeep/api';
import { JobkeepError, invalidArgument } from '@jobkeep/errors';
import { ADMIN_SERVICE_REQUESTS } from './admin-service-requests.js';
import { CHECKPOINT_STORE_REQUESTS } from './checkpoint-store-requests.js';
import { EXECUTION_STORE_REQUESTS } from './execution-store-requests.js';
import { JOB_STORE_REQUESTS } from './job-store-requests.js';
import { LEASE_SERVICE_REQUESTS } from './lease-service-requests.js';
import { LOCK_SERVICE_REQUESTS } from './lock-service-requests.js';
import { NODE_REGISTRY_REQUESTS } from './node-registry-requests.js';
import type { RequestLimits, Rule } from './request-rules.js';

/** Each served service with the rules of its requests. */
export const VALIDATED_SERVICES: readonly [DescService, Readonly<Record<string, Readonly<Record<string, Rule>>>>][] = [
  [JobStore, JOB_STORE_REQUESTS],
  [ExecutionStore, EXECUTION_STORE_REQUESTS],
  [CheckpointStore, CHECKPOINT_STORE_REQUESTS],
  [NodeRegistry, NODE_REGISTRY_REQUESTS],
  [LeaseService, LEASE_SERVICE_REQUESTS],
  [LockService, LOCK_SERVICE_REQUESTS],
  [AdminService, ADMIN_SERVICE_REQUESTS],
];

const RULES = new Map<DescMethod, Readonly<Record<string, Rule>>>(
  VALIDATED_SERVICES.flatMap(([service, rules]) => service.methods.map((method) => [method, rules[method.localName]!] as const)),
);

/**
 * Checks every field of a request message of `method` against its rules, before the handler
 * sees it; throws INVALID_ARGUMENT naming the first field that breaks one. A method without
 * rules fails closed (INTERNAL): the coverage test keeps that from happening.
 */
export function checkRequest(method: DescMethod, request: Message, limits: RequestLimits): void {
  const rules = RULES.get(method);
  if (rules === undefined) throw new JobkeepError('INTERNAL', `${method.parent.typeName}.${method.name} has no request rules`);
  checkFields(method.input, rules, request, '', limits);
}

/** Checks every field of `request` (a message of `desc`) against `rules`; throws at the first failure. */
function checkFields(desc: DescMessage, rules: Readonly<Record<string, Rule>>, request: Message, path: string, limits: RequestLimits): void {
  const fields = request as unknown as Record<string, unknown>;
  for (const member of desc.members) {
    const rule = rules[member.localName];
    // Never reached while the coverage test passes: a field without a rule fails closed.
    if (rule === undefined) throw new JobkeepError('INTERNAL', `${desc.typeName}.${member.name} has no request rule`);
    if (member.kind === 'oneof') checkOneof(member, rule, fields[member.localName], path, limits);
    else applyRule(rule, member, fields[member.localName], join(path, member.name), limits);
  }
}

function applyRule(rule: Rule, field: DescField, given: unknown, path: string, limits: RequestLimits): void {
  switch (rule.kind) {
    case 'ignored':
      return;
    case 'value':
      return rule.check(given as never, path, limits, field);
    case 'message':
      if (given === undefined) {
        if (rule.required) throw invalidArgument(`${path} is required`);
        return;
      }
      checkFields(field.message!, rule.fields, given as Message, path, limits);
      return rule.across?.(given as never, path, limits, field);
    case 'repeated': {
      const values = given as readonly unknown[];
      const max = rule.max(field);
      if (values.length > max) {
        throw invalidArgument(`${path} holds at most ${max} values, not ${values.length}${rule.hint === undefined ? '' : `: ${rule.hint}`}`);
      }
      values.forEach((element, index) => applyRule(rule.element, field, element, `${path}[${index}]`, limits));
      return;
    }
    case 'oneof':
      throw new JobkeepError('INTERNAL', `${path} is a field, not a oneof, but its rule is a oneof rule`);
  }
}

function checkOneof(oneofDesc: DescOneof, rule: Rule, given: unknown, path: string, limits: RequestLimits): void {
  if (rule.kind !== 'oneof') throw new JobkeepError('INTERNAL', `${join(path, oneofDesc.name)} is a oneof, but its rule is not a oneof rule`);
  const chosen = given as { case: string | undefined; value?: unknown };
  const member = oneofDesc.fields.find((field) => field.localName === chosen.case);
  if (member === undefined) {
    if (rule.required) throw invalidArgument(`one of ${either(oneofDesc.fields.map((field) => join(path, field.name)))} is required`);
    return;
  }
  const memberRule = rule.members[member.localName];
  if (memberRule === undefined) throw new JobkeepError('INTERNAL', `${join(path, member.name)} has no request rule`);
  applyRule(memberRule, member, chosen.value, join(path, member.name), limits);
}

/** "a, b or c". */
function either(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}
