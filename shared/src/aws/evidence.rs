//! An instance's evidence before its replacement: its console output and status from
//! EC2 (read-only), kept as an object in the evidence bucket (S3 `PutObject`, SSE-S3,
//! through [`ObjectWriter`]).

use aws_sdk_ec2::error::ProvideErrorMetadata;
use chrono::{DateTime, Utc};

use super::{classify, LazyClient, ObjectWriter};
use crate::error::Error;
use crate::ids::{BucketName, InstanceId};
use crate::kinds::target_group::capture::{ConsoleOutput, InstanceStatus, StatusCheck};
use crate::kinds::target_group::ports::InstanceEvidence;

/// EC2 for the reads, S3 for the object.
#[derive(Clone)]
pub struct Evidence {
    ec2: LazyClient<aws_sdk_ec2::Client>,
    s3: ObjectWriter,
}

impl Evidence {
    pub fn new(ec2: impl Into<LazyClient<aws_sdk_ec2::Client>>, s3: ObjectWriter) -> Self {
        Self {
            ec2: ec2.into(),
            s3,
        }
    }

    async fn console(
        &self,
        instance: &InstanceId,
        latest: bool,
    ) -> Result<
        aws_sdk_ec2::operation::get_console_output::GetConsoleOutputOutput,
        aws_sdk_ec2::error::SdkError<
            aws_sdk_ec2::operation::get_console_output::GetConsoleOutputError,
        >,
    > {
        self.ec2
            .get_console_output()
            .instance_id(instance.as_str())
            .latest(latest)
            .send()
            .await
    }
}

/// EC2's answer for an instance it no longer knows (terminated long enough ago).
fn is_unknown_instance(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("InvalidInstanceID"))
}

fn to_utc(at: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}

fn status_check(
    summary: Option<&aws_sdk_ec2::types::InstanceStatusSummary>,
) -> Option<StatusCheck> {
    let summary = summary?;
    Some(StatusCheck {
        status: summary.status()?.as_str().to_owned(),
        details: summary
            .details()
            .iter()
            .map(|d| {
                let name = d.name().map(|n| n.as_str()).unwrap_or("check");
                let status = d.status().map(|s| s.as_str()).unwrap_or("unknown");
                match d.impaired_since().and_then(to_utc) {
                    Some(since) => format!("{name}: {status} since {}", since.to_rfc3339()),
                    None => format!("{name}: {status}"),
                }
            })
            .collect(),
    })
}

impl InstanceEvidence for Evidence {
    async fn console_output(&self, instance: &InstanceId) -> Result<Option<ConsoleOutput>, Error> {
        // The most recent output needs the Nitro system; older instance types answer
        // UnsupportedOperation and have only the output of their last boot.
        let answer = match self.console(instance, true).await {
            Err(err) if err.code() == Some("UnsupportedOperation") => {
                self.console(instance, false).await
            }
            other => other,
        };
        let output = match answer {
            Ok(output) => output,
            Err(err) if is_unknown_instance(err.code()) => return Ok(None),
            Err(err) => return Err(classify("GetConsoleOutput", err)),
        };
        let Some(encoded) = output.output() else {
            return Ok(None);
        };
        let decoded = aws_smithy_types::base64::decode(encoded.trim()).map_err(|err| {
            Error::aws(
                "GetConsoleOutput",
                false,
                None,
                Some("the output is not base64"),
                err,
            )
        })?;
        Ok(Some(ConsoleOutput::from_bytes(
            &decoded,
            output.timestamp().and_then(to_utc),
        )))
    }

    async fn instance_status(
        &self,
        instance: &InstanceId,
    ) -> Result<Option<InstanceStatus>, Error> {
        let answer = self
            .ec2
            .describe_instance_status()
            .instance_ids(instance.as_str())
            .include_all_instances(true)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(err) if is_unknown_instance(err.code()) => return Ok(None),
            Err(err) => return Err(classify("DescribeInstanceStatus", err)),
        };
        Ok(output
            .instance_statuses()
            .first()
            .map(|status| InstanceStatus {
                state: status
                    .instance_state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_else(|| "unknown".to_owned()),
                availability_zone: status.availability_zone().map(str::to_owned),
                system_status: status_check(status.system_status()),
                instance_status: status_check(status.instance_status()),
                events: status
                    .events()
                    .iter()
                    .map(|e| {
                        let code = e.code().map(|c| c.as_str()).unwrap_or("event");
                        format!("{code}: {}", e.description().unwrap_or_default())
                    })
                    .collect(),
            }))
    }

    async fn keep(&self, bucket: &BucketName, key: &str, body: Vec<u8>) -> Result<String, Error> {
        self.s3
            .put(bucket.as_str(), key, "application/json", body)
            .await?;
        Ok(format!("s3://{bucket}/{key}"))
    }
}
