import { ValidateBy, ValidationOptions } from 'class-validator';
import { capacityLimits, isMultipleOfStep } from '../cluster-rules.js';

/** A capacity in CU: a number from `min` to `max` in steps of 0.5. */
export function IsCapacityUnits(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCapacityUnits',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'number' && isMultipleOfStep(value) && value >= min && value <= max,
        defaultMessage: (args) =>
          `${args?.property} must be a number from ${min} to ${max} in steps of ${capacityLimits.stepCu} (such as 0.5, 1, 1.5)`,
      },
    },
    options,
  );
}
