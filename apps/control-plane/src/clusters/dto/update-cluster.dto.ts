import { ClusterSettingsDto } from './cluster-settings.dto.js';

/** PATCH body: any subset of the settings of the cluster's mode; missing fields keep their value. */
export class UpdateClusterDto extends ClusterSettingsDto {}
