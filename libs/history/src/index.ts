export {
  type BankCheckOptions,
  type BankInput,
  type BankOperation,
  type BankOutput,
  type BankRead,
  type BankResult,
  type BankTransfer,
  checkBank,
} from './bank.js';
export { HistoryRecorder, type Operation, type OperationHandle } from './history.js';
export {
  checkRegisterLinearizability,
  defaultMaxStatesPerKey,
  describeOperation,
  type LinearizabilityOptions,
  type LinearizabilityResult,
  type RegisterCas,
  type RegisterInput,
  type RegisterOperation,
  type RegisterOutput,
  type RegisterRead,
  type RegisterValue,
  type RegisterWrite,
} from './linearizability.js';
export {
  checkSessionGuarantees,
  type SessionAnomaly,
  type SessionAnomalyKind,
  type SessionCheckOptions,
  type SessionCheckResult,
  type SessionInput,
  type SessionOperation,
  type SessionOutput,
} from './session-guarantees.js';
